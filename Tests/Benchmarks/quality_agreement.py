#!/usr/bin/env python3
"""How often pipe's quality filters agree with datatrove's on a corpus.

Runs datatrove 0.10.1's GopherRepetitionFilter + GopherQualityFilter, C4QualityFilter and
FineWebQualityFilter (all defaults) on every document, runs `pipe` with quality.gopher@1,
quality.c4@1 and quality.fineweb@1 (all defaults, each reading the corpus directly; Gopher and
FineWeb once more with datatrove's exact word splitting, splitSpacelessScripts: false), and prints,
per filter, the share of documents with the same verdict (kept or dropped), the share with the
same reason, for C4 the share of kept documents with the same cleaned text, and a table of the
disagreements by (datatrove reason, pipe reason) with example ids.

Run from the repository root with the peer venv (it has datatrove and zstandard):

  ../shared/bench/.venv/bin/python Tests/Benchmarks/quality_agreement.py \\
      [--pipe .build/release/pipe] [--corpus ../shared/bench/data/small] [--work out/quality-agreement] \\
      [--min-agreement 0.97]

datatrove's verdicts take about three minutes for the small corpus; they are cached in the work
folder (keyed by the corpus checksum) and reused. The exit status is 1 when a filter's verdict
agreement is below --min-agreement.
"""

import argparse
import collections
import glob
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import time

import zstandard

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "quality"))

# Stages of the pipeline pipe runs: (stage id, op, config, datatrove filter it is compared with).
# The first three use every default and decide pass or fail; the last two split words exactly
# like datatrove (a run of Chinese or Japanese is one word) to show how much of the remaining
# disagreement comes from pipe's word splitting for scripts without spaces.
STAGES = [
    ("gopher", "quality.gopher@1", {}, "gopher"),
    ("c4", "quality.c4@1", {}, "c4"),
    ("fineweb", "quality.fineweb@1", {}, "fineweb"),
    ("gopher-dt-words", "quality.gopher@1", {"splitSpacelessScripts": False}, "gopher"),
    ("fineweb-dt-words", "quality.fineweb@1", {"splitSpacelessScripts": False}, "fineweb"),
]
GATED = {"gopher", "c4", "fineweb"}


def read_jsonl_zst(path):
    with open(path, "rb") as f:
        reader = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(f), encoding="utf-8")
        for line in reader:
            if line.strip():
                yield json.loads(line)


def corpus_key(shards):
    digest = hashlib.sha256()
    for path in shards:
        digest.update(os.path.basename(path).encode())
        digest.update(str(os.path.getsize(path)).encode())
        with open(path, "rb") as f:
            digest.update(hashlib.sha256(f.read()).digest())
    return digest.hexdigest()[:16]


def datatrove_verdicts(shards, cache):
    """{id: {"gopher": reason|None, "c4": reason|None, "c4_text_sha1": ..., "fineweb": ...}}"""
    if os.path.exists(cache):
        rows = [json.loads(line) for line in open(cache)]
        return {row["id"]: row for row in rows}
    from dt_verdicts import datatrove_row  # imports datatrove: only when needed

    started = time.time()
    rows = {}
    tmp = cache + ".tmp"
    with open(tmp, "w") as out:
        for path in shards:
            for record in read_jsonl_zst(path):
                row = datatrove_row(record)
                rows[row["id"]] = row
                out.write(json.dumps(row) + "\n")
    os.replace(tmp, cache)
    print(f"datatrove: {len(rows)} documents in {time.time() - started:.0f} s", file=sys.stderr)
    return rows


def run_pipe(pipe, shards, work):
    run_dir = os.path.join(work, "run")
    if os.path.exists(run_dir):
        shutil.rmtree(run_dir)
    pipeline = {
        "name": "quality-agreement",
        "description": "datatrove's quality filters with their defaults, each on the whole corpus.",
        "seed": 1,
        "inputs": [{"id": "corpus", "paths": shards}],
        "stages": [{"id": name, "op": op, "inputs": ["corpus"], "config": config} for name, op, config, _ in STAGES],
    }
    pipeline_path = os.path.join(work, "quality-agreement.json")
    with open(pipeline_path, "w") as f:
        json.dump(pipeline, f, indent=2)
    started = time.time()
    subprocess.run([pipe, "run", pipeline_path, "--run-dir", run_dir], check=True)
    print(f"pipe: {time.time() - started:.1f} s", file=sys.stderr)
    verdicts = {name: {} for name, *_ in STAGES}
    for name, *_ in STAGES:
        for path in sorted(glob.glob(os.path.join(run_dir, "rejects", name, "*.jsonl.zst"))):
            for record in read_jsonl_zst(path):
                reject = record["reject"]
                verdicts[name][record["id"]] = {"reason": reject["reason"], "detail": reject.get("detail")}
        for path in sorted(glob.glob(os.path.join(run_dir, "data", name, "*.jsonl.zst"))):
            for record in read_jsonl_zst(path):
                kept = {"reason": None}
                if name.startswith("c4"):
                    kept["text_sha1"] = hashlib.sha1(record["text"].encode("utf-8")).hexdigest()
                verdicts[name][record["id"]] = kept
    return verdicts


def report(reference, mine, examples, min_agreement):
    ids = sorted(reference)
    ok = True
    for name, _, _, filt in STAGES:
        missing = [i for i in ids if i not in mine[name]]
        same_verdict = same_reason = 0
        table = collections.Counter()
        samples = collections.defaultdict(list)
        text_same = text_total = 0
        for i in ids:
            theirs = reference[i][filt]
            ours = mine[name].get(i, {"reason": "<missing>"})["reason"]
            if (theirs is None) == (ours is None):
                same_verdict += 1
            if theirs == ours:
                same_reason += 1
            else:
                key = (theirs or "kept", ours or "kept")
                table[key] += 1
                if len(samples[key]) < examples:
                    samples[key].append(i)
            if filt == "c4" and theirs is None and ours is None:
                text_total += 1
                text_same += reference[i].get("c4_text_sha1") == mine[name][i].get("text_sha1")
        agreement = same_verdict / len(ids)
        if name in GATED:
            ok = ok and agreement >= min_agreement
        line = (
            f"{name:16} verdict agreement {agreement:.4%} ({same_verdict}/{len(ids)}), "
            f"same reason {same_reason / len(ids):.4%}"
        )
        if filt == "c4":
            line += f", same cleaned text {text_same}/{text_total}"
        if missing:
            line += f", {len(missing)} documents missing from pipe's output"
        print(line)
        if table:
            print(f"  {'datatrove':32} {'pipe':32} {'docs':>6}  examples")
            for (theirs, ours), count in table.most_common():
                print(f"  {theirs:32} {ours:32} {count:6}  {' '.join(samples[(theirs, ours)])}")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pipe", default=os.path.join(ROOT, ".build/release/pipe"))
    ap.add_argument("--corpus", default=os.path.join(ROOT, "../shared/bench/data/small"))
    ap.add_argument("--work", default=os.path.join(ROOT, "out/quality-agreement"))
    ap.add_argument("--examples", type=int, default=4, help="example ids per disagreement row")
    ap.add_argument("--min-agreement", type=float, default=0.97)
    args = ap.parse_args()
    shards = sorted(os.path.abspath(p) for p in glob.glob(os.path.join(args.corpus, "shards", "*.jsonl.zst")))
    if not shards:
        sys.exit(f"no shards in {args.corpus}/shards")
    os.makedirs(args.work, exist_ok=True)
    cache = os.path.join(args.work, f"datatrove-{corpus_key(shards)}.jsonl")
    reference = datatrove_verdicts(shards, cache)
    mine = run_pipe(os.path.abspath(args.pipe), shards, args.work)
    sys.exit(0 if report(reference, mine, args.examples, args.min_agreement) else 1)


if __name__ == "__main__":
    main()
