#!/usr/bin/env python3
"""Document sets for the MOLE check (mole_check.sh), from the bundled samples.

Takes the prose originals of samples/ (labels.tsv: kind text, role original, at least 300
characters; plus the junk records, which a quality score should place low) and cuts each to an
excerpt of at most --chars characters at a line end, so that a 1.5B judge on one CPU thread
reads a few hundred of them in about an hour. Writes three zstd JSONL shards, disjoint:

  rate.jsonl.zst     documents the judge rates (labels: half train the evaluator, half are held out)
  rewrite.jsonl.zst  documents the capable model degrades per facet (LLM counterfactuals)
  rest.jsonl.zst     every other document (rule counterfactuals for the contrastive loss, and the
                     drop rates per language)

Each record keeps its id and source; metadata.lang, metadata.kind (man, man-i18n, doc, gettext,
junk) and metadata.chars_full (the length before cutting) are added. The sample is stratified
by source and language with a fixed seed, so the sets are the same on every machine.
"""
import argparse
import csv
import json
import pathlib
import random
import subprocess
from collections import defaultdict

ROOT = pathlib.Path(__file__).resolve().parents[2]


def read_samples():
    labels = {row["id"]: row for row in csv.DictReader(open(ROOT / "samples/labels.tsv"), delimiter="\t")}
    for shard in sorted((ROOT / "samples").glob("part-*.jsonl.zst")):
        data = subprocess.run(["zstd", "-dcq", str(shard)], check=True, capture_output=True).stdout
        for line in data.decode("utf-8").splitlines():
            record = json.loads(line)
            yield record, labels[record["id"]]


def excerpt(text, limit):
    """The text up to the last line end within `limit` characters (the whole text if shorter)."""
    if len(text) <= limit:
        return text.strip()
    cut = text.rfind("\n", 0, limit)
    if cut < limit // 2:
        cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > 0 else limit].strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="directory for the three shards")
    parser.add_argument("--chars", type=int, default=900, help="longest excerpt (default 900)")
    parser.add_argument("--rate", type=int, default=240, help="documents to rate (default 240)")
    parser.add_argument("--rewrite", type=int, default=16, help="documents to degrade with the LLM (default 16)")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()

    groups = defaultdict(list)
    for record, label in read_samples():
        if label["role"] == "junk":
            kind, lang = "junk", label["language"]
        elif label["kind"] == "text" and label["role"] == "original" and len(record["text"]) >= 300:
            kind, lang = record["metadata"]["source"], label["language"]
        else:
            continue
        text = excerpt(record["text"], args.chars)
        if len(text) < 200:
            continue
        metadata = dict(record["metadata"], lang=lang, kind=kind, chars_full=len(record["text"]))
        groups[(kind, lang)].append({"id": record["id"], "text": text, "metadata": metadata})

    rng = random.Random(args.seed)
    keys = sorted(groups)
    for key in keys:
        groups[key].sort(key=lambda r: r["id"])
        rng.shuffle(groups[key])

    def draw(kind, count, taken):
        """`count` documents of `kind`, round-robin over its languages (each language is
        represented before any one fills the quota)."""
        kind_keys = [key for key in keys if key[0] == kind]
        chosen, depth = [], 0
        while len(chosen) < count and any(len(groups[key]) > depth for key in kind_keys):
            for key in kind_keys:
                if len(groups[key]) > depth and groups[key][depth]["id"] not in taken and len(chosen) < count:
                    chosen.append(groups[key][depth])
            depth += 1
        taken.update(r["id"] for r in chosen)
        return chosen

    taken = set()
    # The rewrite set: prose a rewrite can degrade, half English, half translated man pages.
    half = args.rewrite // 2
    rewrite = draw("man", half - half // 2, taken) + draw("doc", half // 2, taken)
    rewrite += draw("man-i18n", args.rewrite - len(rewrite), taken)
    # The rating set, by kind: what a web-scale corpus of this machine's text looks like.
    shares = {"man": 0.2, "doc": 0.125, "man-i18n": 0.42, "gettext": 0.19, "junk": 0.065}
    rate = []
    for kind, share in shares.items():
        rate += draw(kind, round(args.rate * share), taken)
    rest = [r for key in keys for r in groups[key] if r["id"] not in taken]

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, records in (("rate", rate), ("rewrite", rewrite), ("rest", rest)):
        records = sorted(records, key=lambda r: r["id"])
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
        subprocess.run(["zstd", "-qf", "-19", "-o", str(out / f"{name}.jsonl.zst")], input=lines, check=True)
        kinds = defaultdict(int)
        for r in records:
            kinds[r["metadata"]["kind"]] += 1
        print(f"{name}: {len(records)} documents ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})")


if __name__ == "__main__":
    main()
