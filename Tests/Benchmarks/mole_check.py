#!/usr/bin/env python3
"""Does MOLE's score mean quality on real documents? (issue 17, item 6)

Runs `pipe` end to end on excerpts of the bundled samples (mole_sets.py) and prints:
  1. the judge's ratings (llm.generate, JSON {"reason", "rating"}) of the rating set;
  2. LLM counterfactuals of the rewrite set (counterfactual.generate, method llm): the share
     that passed the validation bands, per facet;
  3. per evaluator variant (contrastive on rule counterfactuals only, supervised on the
     judge's ratings only, joint): Spearman of the overall score with the held-out ratings,
     beside the baselines (document length, the Gopher verdict); originals above their
     LLM-degraded versions per facet; and the drop rate of each kind of document per
     language with keepTopFraction 0.9, over all documents and within each language.

Half of the rated documents (by a hash of the id) train, half are held out. Nothing here is
hard-coded: every figure is computed from the runs in WORK, which are cached and resumable
(run the script again after an interruption and the model answers already received are kept).

usage: mole_check.py WORK [--pipe PATH] [--judge URL] [--rewriter URL] [--rate N] [--rewrite N]
"""
import argparse
import collections
import hashlib
import json
import math
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]

RATING_SYSTEM = (
    "You rate documents for the pretraining corpus of a language model, as an impartial judge. Rate the document the "
    "user gives for its quality as training text: is it coherent, informative and well written? Complete sentences "
    "and clear reference documentation are good; fragments, lists of interface strings, navigation, boilerplate, "
    "garbled or repeated text are poor. A document in any language can be excellent: judge the content and the "
    "writing, not the language. Scale: 1 meaningless, garbled or boilerplate; 3 fragments or lists with little "
    "connected text; 5 useful but partly fragmentary; 7 clear and coherent with minor problems; 9-10 excellent, "
    'informative and well written. Answer with a JSON object: {"reason": a short explanation, "rating": an integer '
    "from 1 to 10}."
)


def read_shards(directory):
    records = []
    for shard in sorted(pathlib.Path(directory).glob("*.jsonl.zst")):
        data = subprocess.run(["zstd", "-dcq", str(shard)], check=True, capture_output=True).stdout
        records += [json.loads(line) for line in data.decode("utf-8").splitlines()]
    return records


def write_shard(path, records):
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
    subprocess.run(["zstd", "-qf", "-o", str(path)], input=lines, check=True)


def run(pipe, work, name, pipeline):
    path = work / f"{name}.json"
    text = json.dumps(pipeline, indent=2)
    run_dir = work / f"run-{name}"
    if (run_dir / "manifest.sqlite").exists() and path.exists() and path.read_text() != text:
        sys.exit(f"{path} changed since {run_dir} was made (other options?): remove {run_dir} or use another WORK")
    path.write_text(text)
    command = [pipe, "resume", str(run_dir)] if (run_dir / "manifest.sqlite").exists() else [
        pipe, "run", str(path), "--run-dir", str(run_dir)]
    subprocess.run(command + ["--no-progress"], check=True, stdout=subprocess.DEVNULL)
    return run_dir


def endpoint(url, name):
    return {"baseURL": url, "model": name, "maxConcurrentRequests": 1, "timeoutSeconds": 900}


def ranks(values):
    order = sorted(range(len(values)), key=lambda i: values[i])
    result = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            result[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return result


def spearman(xs, ys):
    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    vx = math.sqrt(sum((a - mx) ** 2 for a in rx))
    vy = math.sqrt(sum((b - my) ** 2 for b in ry))
    return cov / (vx * vy) if vx and vy else float("nan")


def held_out(record_id):
    return hashlib.sha256(record_id.encode()).digest()[0] % 2 == 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work")
    parser.add_argument("--pipe", default=str(ROOT / ".build/release/pipe"))
    parser.add_argument("--judge", default="http://127.0.0.1:8767", help="the rating model's URL (default qwen-1.5b's)")
    parser.add_argument("--rewriter", default=None, help="the rewriting model's URL (default: the judge's)")
    parser.add_argument("--model", default="qwen-1.5b", help="the model name sent (default qwen-1.5b)")
    parser.add_argument("--ratings", default=None,
                        help="a zstd JSONL file of rated documents (metadata.rating) to use instead of asking the judge")
    parser.add_argument("--rewrites", default=None,
                        help="the run directory of an earlier counterfactual.generate run (stage \"counterfactuals\") "
                             "to use instead of rewriting with the default prompt")
    parser.add_argument("--rate", type=int, default=240)
    parser.add_argument("--rewrite", type=int, default=16)
    parser.add_argument("--train-config", default="{}", help="JSON object merged into evaluator.train's config")
    parser.add_argument("--variants", default="contrastive,supervised,joint", help="which variants to run")
    parser.add_argument("--keep", type=float, default=0.9, help="keepTopFraction for the drop rates")
    args = parser.parse_args()
    work = pathlib.Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    sets = work / "sets"
    if not (sets / "rest.jsonl.zst").exists():
        subprocess.run([sys.executable, str(ROOT / "Tests/Benchmarks/mole_sets.py"), str(sets), "--rate",
                        str(args.rate), "--rewrite", str(args.rewrite)], check=True)

    # 1. The judge's ratings.
    if args.ratings:
        data = subprocess.run(["zstd", "-dcq", args.ratings], check=True, capture_output=True).stdout
        rated_input = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    ratings = None if args.ratings else run(args.pipe, work, "ratings", {
        "name": "mole-ratings", "seed": 17,
        "inputs": [{"id": "docs", "paths": [str(sets / "rate.jsonl.zst")]}],
        "stages": [{"id": "rate", "op": "llm.generate@1", "inputs": ["docs"], "config": {
            "endpoint": endpoint(args.judge, args.model), "name": "judge", "system": RATING_SYSTEM,
            "prompt": "[Document]\n{text}\n[End of document]", "temperature": 0, "maxTokens": 160, "json": True,
            "output": "rating_answer", "batchSize": 4}}]})
    rated = [r for r in (rated_input if args.ratings else read_shards(ratings / "data/rate"))
             if isinstance(r["metadata"].get("rating"), (int, float)) and 1 <= r["metadata"]["rating"] <= 10]
    histogram = collections.Counter(int(r["metadata"]["rating"]) for r in rated)
    print(f"ratings: {len(rated)} usable; histogram {dict(sorted(histogram.items()))}")
    by_kind = collections.defaultdict(list)
    for r in rated:
        by_kind[r["metadata"]["kind"]].append(r["metadata"]["rating"])
    print("  mean rating per kind: " + ", ".join(
        f"{k} {sum(v) / len(v):.1f} (n={len(v)})" for k, v in sorted(by_kind.items())))
    train = [r for r in rated if not held_out(r["id"])]
    test = [r for r in rated if held_out(r["id"])]
    write_shard(work / "labelled-train.jsonl.zst", train)
    write_shard(work / "labelled-test.jsonl.zst", test)

    # 2. LLM counterfactuals.
    rewrites = pathlib.Path(args.rewrites).resolve() if args.rewrites else run(args.pipe, work, "cf", {
        "name": "mole-llm-counterfactuals", "seed": 17,
        "inputs": [{"id": "docs", "paths": [str(sets / "rewrite.jsonl.zst")]}],
        "stages": [{"id": "counterfactuals", "op": "counterfactual.generate@1", "inputs": ["docs"], "config": {
            "scenario": "web_article", "method": "llm", "endpoint": endpoint(args.rewriter or args.judge, args.model), "temperature": 0.7, "maxTokens": 512, "batchSize": 2}}]})
    variants_out = read_shards(rewrites / "data/counterfactuals")
    made = collections.Counter(r["metadata"]["counterfactual"]["facet"] for r in variants_out
                               if r["metadata"]["counterfactual"]["facet"])
    originals = sum(1 for r in variants_out if not r["metadata"]["counterfactual"]["facet"])
    print(f"LLM counterfactuals: {originals} documents x 5 facets; passed the validation bands: "
          + ", ".join(f"{f} {made[f]}/{originals}" for f in sorted(made))
          + f"; all {sum(made.values())}/{originals * 5} ({100 * sum(made.values()) / max(originals * 5, 1):.0f}%)")
    import sqlite3
    with sqlite3.connect(f"file:{rewrites / 'manifest.sqlite'}?mode=ro", uri=True) as db:
        rejected = db.execute("SELECT name, value FROM counters WHERE stage = 'counterfactuals' "
                              "AND name LIKE 'rejected.%' ORDER BY value DESC").fetchall()
    print("  rejected: " + (", ".join(f"{name[len('rejected.'):]} {value}" for name, value in rejected) or "none"))

    # 3. Evaluator variants.
    common_inputs = [
        {"id": "rest", "paths": [str(sets / "rest.jsonl.zst")]},
        {"id": "labelled", "paths": [str(work / "labelled-train.jsonl.zst")]},
        {"id": "test", "paths": [str(work / "labelled-test.jsonl.zst")]},
        {"id": "llm", "paths": [str(rewrites / "data/counterfactuals/*.jsonl.zst")]},
        # The drop rates are measured on every excerpt (documents like those the evaluator
        # trained on: keepTopFraction's percentiles come from them).
        {"id": "corpus", "paths": [str(sets / "rest.jsonl.zst"), str(sets / "rate.jsonl.zst"),
                                   str(sets / "rewrite.jsonl.zst")]},
    ]
    variants = {
        "contrastive": {"pairs": True, "labels": False},
        "supervised": {"pairs": False, "labels": True},
        "joint": {"pairs": True, "labels": True},
    }
    # Feature and loss settings, fixed before looking at the held-out half; the validation
    # Spearman (evaluator.train's own held-out 30% of the training labels) is what to choose
    # by, the held-out half is what to report.
    configs = {"default": {}, "shape": {"wordFeatures": False, "characterOrders": []},
               "labels-x4": {"supervisedWeight": 2}, "overall-from-labels": {"overallFromPairs": False}}
    if args.train_config != "{}":
        configs = {"custom": json.loads(args.train_config)}
    results = {}
    validation = {}
    for name, variant in variants.items():
        if name not in args.variants.split(","):
            continue
        for config_name, extra in configs.items():
            if not variant["labels"] and "supervisedWeight" in extra:
                continue
            if not (variant["labels"] and variant["pairs"]) and "overallFromPairs" in extra:
                continue
            key = f"{name}/{config_name}"
            train_config = {"scenario": "web_article", "groupBy": "language", **extra}
            stages = [
                {"id": "lang", "op": "lang.id@1",
                 "inputs": ["rest", "labelled"] if variant["pairs"] else ["labelled"],
                 "config": {"belowThreshold": "keep"}},
            ]
            if variant["pairs"]:
                stages.append({"id": "cf", "op": "counterfactual.generate@1", "inputs": ["lang"],
                               "config": {"scenario": "web_article", "method": "rules"}})
            if variant["labels"]:
                train_config["labelField"] = "rating"
            if not variant["pairs"]:
                train_config["contrastiveWeight"] = 0
            training_input = "cf" if variant["pairs"] else "lang"
            stages += [
                {"id": "train", "op": "evaluator.train@1", "inputs": [training_input],
                 "config": {**train_config, "heldOutFraction": 0}},
                {"id": "score-test", "op": "quality.mole@1", "inputs": ["test"], "config": {"model": "train"}},
                {"id": "score-llm", "op": "quality.mole@1", "inputs": ["llm"], "config": {"model": "train"}},
                {"id": "prose-lang", "op": "lang.id@1", "inputs": ["corpus"], "config": {"belowThreshold": "keep"}},
                {"id": "keep-overall", "op": "quality.mole@1", "inputs": ["prose-lang"],
                 "config": {"model": "train", "keepTopFraction": args.keep}},
                {"id": "keep-per-language", "op": "quality.mole@1", "inputs": ["prose-lang"],
                 "config": {"model": "train", "keepTopFraction": args.keep, "groupBy": "language"}},
                {"id": "gopher", "op": "quality.gopher@1", "inputs": ["test"], "config": {}},
            ]
            if variant["labels"]:
                stages.append({"id": "validate", "op": "evaluator.train@1", "inputs": [training_input],
                               "config": {**train_config, "heldOutFraction": 0.3}})
            run_dir = run(args.pipe, work, f"variant-{name}-{config_name}", {
                "name": f"mole-{name}-{config_name}", "seed": 17, "inputs": common_inputs, "stages": stages})
            results[key] = run_dir
            if variant["labels"]:
                report = json.loads((run_dir / "artifacts/validate/report.json").read_text())
                validation[key] = report.get("labelSpearman")

    # Baselines on the held-out ratings.
    test_ids = [r["id"] for r in test]
    labels = [r["metadata"]["rating"] for r in test]
    length = [r["metadata"].get("chars_full", len(r["text"])) for r in test]
    gopher_kept = {r["id"] for r in read_shards(next(iter(results.values())) / "data/gopher")}
    gopher = [1 if i in gopher_kept else 0 for i in test_ids]
    print(f"\nheld-out ratings: {len(test)} documents (train: {len(train)})")
    if len(test) < 4 or len(train) < 4:
        sys.exit("too few usable ratings for the comparison; rate more documents (--rate)")
    print(f"  Spearman with the judge's rating: document length {spearman(length, labels):+.3f}, "
          f"excerpt length {spearman([len(r['text']) for r in test], labels):+.3f}, "
          f"Gopher verdict {spearman(gopher, labels):+.3f}")
    labels_samples = {}
    import csv
    for row in csv.DictReader(open(ROOT / "samples/labels.tsv"), delimiter="\t"):
        labels_samples[row["id"]] = row
    for name, run_dir in results.items():
        scored = {r["id"]: r["metadata"]["quality"]["overall"] for r in read_shards(run_dir / "data/score-test")}
        rho = spearman([scored[i] for i in test_ids], labels)
        report = json.loads((run_dir / "artifacts/train/report.json").read_text()) if (
            run_dir / "artifacts/train/report.json").exists() else {}
        check = validation.get(name)
        print(f"\n[{name}] Spearman of the overall score with held-out ratings: {rho:+.3f}"
              + (f" (validation on the training labels: {check:+.3f})" if check is not None else ""))
        # Originals above their LLM-degraded versions.
        llm = read_shards(run_dir / "data/score-llm")
        by_original = {}
        for r in llm:
            info = r["metadata"]["counterfactual"]
            if not info["facet"]:
                by_original[info["original"]] = r["metadata"]["quality"]
        wins = collections.defaultdict(lambda: [0, 0, 0])
        for r in llm:
            info = r["metadata"]["counterfactual"]
            facet = info["facet"]
            if not facet or info["original"] not in by_original:
                continue
            original = by_original[info["original"]]
            degraded = r["metadata"]["quality"]
            wins[facet][0] += 1
            wins[facet][1] += original[facet] > degraded[facet]
            wins[facet][2] += original["overall"] > degraded["overall"]
        print("  originals above LLM-degraded (facet head / overall): " + ", ".join(
            f"{f} {w[1]}/{w[0]} / {w[2]}/{w[0]}" for f, w in sorted(wins.items())))
        # Drop rates per kind and language.
        source = {r["id"]: r for r in read_shards(run_dir / "data/prose-lang")}
        for mode in ("keep-overall", "keep-per-language"):
            kept = {r["id"] for r in read_shards(run_dir / f"data/{mode}")}
            table = collections.defaultdict(lambda: [0, 0])
            for record_id, record in source.items():
                label = labels_samples[record_id]
                if label["role"] != "original" or label["kind"] != "text":
                    continue
                kind = record["metadata"]["source"]
                group = "en" if kind == "man" else ("translated" if kind == "man-i18n" else None)
                if group:
                    table[("man", group)][0] += 1
                    table[("man", group)][1] += record_id not in kept
                    if kind == "man-i18n":
                        table[("man", label["language"])][0] += 1
                        table[("man", label["language"])][1] += record_id not in kept
                table[(kind, "all")][0] += 1
                table[(kind, "all")][1] += record_id not in kept
            en = table[("man", "en")]
            tr = table[("man", "translated")]
            rate_en = en[1] / max(en[0], 1)
            rate_tr = tr[1] / max(tr[0], 1)
            ratio = max(rate_en, rate_tr) / max(min(rate_en, rate_tr), 1e-9)
            per_lang = sorted((k[1], v) for k, v in table.items() if k[0] == "man" and k[1] not in ("en", "translated", "all"))
            big = [(lang, v[1] / v[0]) for lang, v in per_lang if v[0] >= 20]
            print(f"  {mode} {args.keep}: man pages dropped, English {en[1]}/{en[0]} ({100 * rate_en:.1f}%), "
                  f"translated {tr[1]}/{tr[0]} ({100 * rate_tr:.1f}%), ratio {ratio:.2f}; by source "
                  + ", ".join(f"{k[0]} {100 * v[1] / max(v[0], 1):.1f}%" for k, v in sorted(table.items())
                              if k[1] == "all"))
            if big:
                low = min(r for _, r in big)
                spread = f"{max(r for _, r in big) / low:.2f}" if low > 0 else "n/a (a language lost none)"
                print("    translated man pages per language (>= 20 pages): " + ", ".join(
                    f"{lang} {100 * rate:.0f}%" for lang, rate in big) + f"; highest/lowest {spread}")
        if report:
            print(f"  training report: labels {report.get('trainingLabels')}, "
                  f"groups with percentiles {len(report.get('groups', {}).get('withPercentiles', []))}")


if __name__ == "__main__":
    main()
