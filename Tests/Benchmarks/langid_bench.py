#!/usr/bin/env python3
"""lang.id beside lingua (lingua-language-detector, Rust inside) on held-out paragraphs.

The paragraphs are the held-out test documents of pipe's language model (200 to 2,000
characters of catalogues and man pages that no training text came from), written by
`make_langid_model.py --dry-run --export-test FILE`. Only the languages lingua knows are
scored, and lingua is built for exactly those (`from_languages`), so both choose among the
same candidates. Both run on one core: lingua's `detect_language_of` one paragraph at a time;
pipe's `lang.id@1` in a one-worker run, timed by the manifest's decide_seconds (the stage's
own time, without reading and writing records) and by the run's CPU seconds.

  langid_bench.py --pipe .build/release/pipe TEST.jsonl [--limit N] [--repeat R] [--ops lang.id@1,lang.id@2]

pipe's runs read the paragraphs R times over (default 5), so that its time is long enough to
measure; accuracy is the same on every copy.
"""
import argparse, collections, json, os, resource, sqlite3, subprocess, sys, time

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder


def lingua_language(code):
    try:
        return Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))
    except (AttributeError, ValueError):
        return None


def accuracy(rows):
    by_language = collections.defaultdict(lambda: [0, 0])
    for gold, predicted in rows:
        by_language[gold][1] += 1
        by_language[gold][0] += gold == predicted
    per = {code: right / total for code, (right, total) in by_language.items()}
    return sum(per.values()) / len(per), per


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pipe", default=".build/release/pipe")
    p.add_argument("--out", default=".build/langid-bench")
    p.add_argument("--limit", type=int, default=0, help="at most N paragraphs per language")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--ops", default="lang.id@1,lang.id@2")
    p.add_argument("test")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    records, counts = [], collections.Counter()
    for line in open(args.test, encoding="utf-8"):
        record = json.loads(line)
        code = record["metadata"]["language"]
        if lingua_language(code) is None or (args.limit and counts[code] >= args.limit):
            continue
        counts[code] += 1
        records.append(record)
    codes = sorted(counts)
    print(f"{len(records)} held-out paragraphs in {len(codes)} languages lingua knows: {' '.join(codes)}")
    shard = os.path.join(args.out, "paragraphs.jsonl")
    with open(shard, "w", encoding="utf-8") as f:
        for copy in range(args.repeat):
            for record in records:
                # The label under another key: lang.id writes metadata.language.
                row = {"id": f"{record['id']}#{copy}", "text": record["text"],
                       "metadata": {"gold": record["metadata"]["language"]}}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    results = {}
    for op in args.ops.split(","):
        pipeline = os.path.join(args.out, "langid.json")
        with open(pipeline, "w") as f:
            json.dump({"name": "langid-bench", "inputs": [{"id": "in", "paths": ["paragraphs.jsonl"]}],
                       "stages": [{"id": "lang", "op": op, "inputs": ["in"], "config": {"belowThreshold": "keep"}}],
                       "output": {"from": "lang", "path": "output"}}, f)
        run = os.path.join(args.out, "run")
        subprocess.run(["rm", "-rf", run], check=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([args.pipe, "run", pipeline, "--run-dir", run, "--workers", "1", "--no-progress"],
                       stdout=subprocess.DEVNULL, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        run_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        decide = sqlite3.connect(os.path.join(run, "manifest.sqlite")).execute(
            "SELECT sum(decide_seconds) FROM tasks WHERE stage_id = 'lang'").fetchone()[0]
        out = subprocess.run([args.pipe, "cat", run, "lang"], capture_output=True, check=True).stdout
        predicted = {}
        for line in out.splitlines():
            record = json.loads(line)
            if record["id"].endswith("#0"):
                predicted[record["id"][:-2]] = record["metadata"].get("language")
        rows = [(r["metadata"]["language"], predicted.get(r["id"])) for r in records]
        macro, per = accuracy(rows)
        paragraphs = len(records) * args.repeat
        results[op] = (macro, per, paragraphs / decide, decide, paragraphs / run_cpu, run_cpu)

    # lingua
    detector = LanguageDetectorBuilder.from_languages(*[lingua_language(c) for c in codes]).build()
    detector.detect_language_of("warm up")
    start = time.process_time()
    guesses = [detector.detect_language_of(r["text"]) for r in records]
    lingua_cpu = time.process_time() - start
    lingua_rows = [(r["metadata"]["language"], g.iso_code_639_1.name.lower() if g else None)
                   for r, g in zip(records, guesses)]
    lingua_macro, lingua_per = accuracy(lingua_rows)

    n = len(records)
    lingua_rate = n / lingua_cpu
    for op, (macro, per, rate, decide, run_rate, run_cpu) in results.items():
        print(f"  {op:10} macro accuracy {macro:.4f}  {rate:9.0f} paragraphs/s deciding ({decide:.2f} s for "
              f"{n * args.repeat}), {run_rate:7.0f}/s for the whole run ({run_cpu:.2f} s CPU): "
              f"{rate / lingua_rate:.1f}x lingua deciding, {run_rate / lingua_rate:.1f}x whole run")
        worst = sorted(per.items(), key=lambda kv: kv[1])[:5]
        print("             weakest: " + ", ".join(f"{c} {a:.3f} (lingua {lingua_per[c]:.3f})" for c, a in worst))
    print(f"  lingua     macro accuracy {lingua_macro:.4f}  {lingua_rate:9.0f} paragraphs/s ({lingua_cpu:.2f} s for {n})")
    worst = sorted(lingua_per.items(), key=lambda kv: kv[1])[:5]
    print("             weakest: " + ", ".join(f"{c} {a:.3f}" for c, a in worst))

if __name__ == "__main__":
    main()
