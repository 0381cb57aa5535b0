#!/usr/bin/env python3
"""Scores near-duplicate removal on the real revisions of neardup_set.py: pipe's dedup.minhash
beside datasketch's MinHashLSH at the same threshold, on the same word 5-gram shingles.

  python3 Tests/Benchmarks/neardup_eval.py [--set .build/neardup] [--threshold 0.8] [--json]
      [--pipe CONFIG_JSON ...]   # extra dedup.minhash configs (labelled by their JSON)

Truth: a document is a duplicate when some earlier document (in input order) has exact 5-gram
Jaccard similarity >= threshold with it (pairs.jsonl.zst of the set). A tool's removed documents
are compared with that:
  precision, recall, F1      over documents
  below-threshold precision  over the same-origin pairs (earlier a, later b) with Jaccard below
                             the threshold whose b is not a duplicate: the share with b kept
datasketch: MinHash(num_perm=128) and MinHashLSH(threshold) with its own banding, "query then
insert" in input order (a document matching a kept one is removed), as its users run it.
Prints one line per tool; --json adds the figures as JSON lines.
"""

import argparse
import glob
import io
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from neardup_set import shingles  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read_jsonl_zst(path):
    import zstandard
    with open(path, "rb") as f:
        data = zstandard.ZstdDecompressor().stream_reader(f).read()
    return [json.loads(line) for line in data.decode().splitlines() if line]


def kept_ids(folder):
    ids = set()
    for path in sorted(glob.glob(os.path.join(folder, "**", "*.jsonl.zst"), recursive=True)):
        ids.update(doc["id"] for doc in read_jsonl_zst(path))
    return ids


def run_pipe(set_dir, work, label, config):
    run_dir = os.path.join(work, "run-" + label)
    shutil.rmtree(run_dir, ignore_errors=True)
    pipeline = {"name": "neardup-" + label, "seed": 1,
                "inputs": [{"id": "set", "paths": [os.path.join(os.path.abspath(set_dir), "shards", "*.jsonl.zst")]}],
                "stages": [{"id": "minhash", "op": config.pop("op", "dedup.minhash@2"), "inputs": ["set"],
                            "config": config}]}
    path = os.path.join(work, label + ".json")
    with open(path, "w") as f:
        json.dump(pipeline, f, indent=1)
    started = time.time()
    subprocess.run([os.path.join(ROOT, ".build/release/pipe"), "run", path, "--run-dir", run_dir, "--no-progress"],
                   check=True, stdout=subprocess.DEVNULL)
    return kept_ids(os.path.join(run_dir, "data", "minhash")), time.time() - started


def run_datasketch(docs, threshold, num_perm=128):
    from datasketch import MinHash, MinHashLSH
    started = time.time()
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    template = MinHash(num_perm=num_perm, seed=1)
    extra = {"scheme": template.scheme} if hasattr(template, "scheme") else {}
    kept = set()
    for doc in docs:
        s = shingles(doc["text"])
        if not s:
            kept.add(doc["id"])
            continue
        m = MinHash(num_perm=num_perm, seed=1, permutations=template.permutations, **extra)
        m.update_batch([x.encode("utf-8", "surrogatepass") for x in s])
        if not lsh.query(m):
            lsh.insert(doc["id"], m, check_duplication=False)
            kept.add(doc["id"])
    return kept, time.time() - started, lsh.b, lsh.r


def truth(docs, pairs, threshold, rule):
    """The documents to remove: with rule "greedy", those with an earlier kept document at or
    above the threshold (in input order); with "any", those with any earlier one."""
    order = {doc["id"]: index for index, doc in enumerate(docs)}
    earlier = {}
    for p in pairs:
        if p["jaccard"] >= threshold:
            a, b = sorted((p["a"], p["b"]), key=order.get)
            earlier.setdefault(b, []).append(a)
    duplicate = set()
    for doc in docs:
        if any(rule == "any" or e not in duplicate for e in earlier.get(doc["id"], [])):
            duplicate.add(doc["id"])
    return duplicate


def score(docs, pairs, threshold, kept, duplicate):
    order = {doc["id"]: index for index, doc in enumerate(docs)}
    removed = {doc["id"] for doc in docs} - kept
    tp = len(removed & duplicate)
    precision = tp / len(removed) if removed else 1.0
    recall = tp / len(duplicate) if duplicate else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    below = [p for p in pairs if p["sameOrigin"] and p["jaccard"] < threshold]
    below = [p["b"] if order[p["b"]] > order[p["a"]] else p["a"] for p in below]
    below = [b for b in below if b not in duplicate]
    below_kept = sum(1 for b in below if b in kept)
    return {
        "duplicates": len(duplicate), "removed": len(removed), "truePositives": tp,
        "falsePositives": len(removed) - tp, "falseNegatives": len(duplicate) - tp,
        "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
        "belowThresholdPairs": len(below),
        "belowThresholdPrecision": round(below_kept / len(below), 4) if below else 1.0,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", default=os.path.join(ROOT, ".build/neardup"))
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--pipe", action="append", default=[], help="an extra dedup.minhash config as JSON")
    ap.add_argument("--no-datasketch", action="store_true")
    ap.add_argument("--truth", choices=["greedy", "any"], default="greedy")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not os.path.exists(os.path.join(args.set, "pairs.jsonl.zst")):
        sys.exit(f"no near-duplicate set at {args.set}: run Tests/Benchmarks/neardup_set.py first")
    docs = read_jsonl_zst(os.path.join(args.set, "shards", "00000.jsonl.zst"))
    pairs = read_jsonl_zst(os.path.join(args.set, "pairs.jsonl.zst"))
    work = os.path.join(args.set, "eval")
    os.makedirs(work, exist_ok=True)
    t = args.threshold
    duplicate = truth(docs, pairs, t, args.truth)
    configs = [("pipe dedup.minhash@2 defaults", {"threshold": t}),
               ("pipe dedup.minhash@2 verify signature", {"threshold": t, "verify": "signature"}),
               ("pipe dedup.minhash@2 clustering components", {"threshold": t, "clustering": "components"}),
               ("pipe dedup.minhash@1 defaults", {"op": "dedup.minhash@1"})]
    configs += [("pipe " + text, json.loads(text)) for text in args.pipe]
    print(f"{len(docs)} documents, {sum(1 for p in pairs if p['sameOrigin'])} same-origin pairs, threshold {t}")
    rows = []
    for number, (label, config) in enumerate(configs):
        kept, seconds = run_pipe(args.set, work, f"c{number}", dict(config))
        rows.append((label, score(docs, pairs, t, kept, duplicate), seconds))
    if not args.no_datasketch:
        kept, seconds, b, r = run_datasketch(docs, t)
        rows.append((f"datasketch MinHashLSH(threshold={t}, num_perm=128): {b} x {r}", score(docs, pairs, t, kept, duplicate),
                     seconds))
    for label, figures, seconds in rows:
        print(f"  {label}\n    F1 {figures['f1']:.4f}  precision {figures['precision']:.4f}  recall "
              f"{figures['recall']:.4f}  removed {figures['removed']} of {figures['duplicates']} duplicates "
              f"(FP {figures['falsePositives']}, FN {figures['falseNegatives']})  below-threshold precision "
              f"{figures['belowThresholdPrecision']:.4f} of {figures['belowThresholdPairs']} pairs  {seconds:.1f} s")
        if args.json:
            print(json.dumps({"tool": label, **figures, "seconds": round(seconds, 2)}))


if __name__ == "__main__":
    main()
