#!/usr/bin/env bash
# make bench: pipe's figures beside the peers', measured in the same run of the machine.
#
#   bash Tests/Benchmarks/run.sh                       # every benchmark, small and large corpora
#   SIZES=small BENCHES="passthrough quality" bash Tests/Benchmarks/run.sh
#   PEERS=0 ...                                        # skip the (slow) Python peers
#
# BENCHES: passthrough quality minhash mole langid engine neardup tokenizer parquet (default: all). Peers come from
# ../shared/bench/run_peer.sh in the same run: zstd-recompress (with passthrough),
# dt-quality (with quality), ds-minhash-xxh and dt-minhash-t1 (with minhash).
# Quality also prints the filters' own time beside datatrove's per-step timers (pipe's
# tasks.decide_seconds from the last timed run; datatrove's stats.json from the peer's log):
# both leave out reading, parsing and writing, which the end-to-end figures include.
# Engine: the 8-stage curation pipeline (normalize, lang.id, gopher, exact and MinHash dedup,
# tokens, temperature mixture) beside the engine before the open engine, built from commit
# 915b01b in $WORK (once), run pair by pair (A B A B ...) with 1 and 2 workers: CPU, wall, peak
# RSS, bytes of data/ and byte identity of the output; then once with keepIntermediates false.
# Benchmarks, not tests: nothing here asserts a time; it prints figures and ratios.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
B="${BENCH_DIR:-$ROOT/../shared/bench}"
[ -d "$B" ] || { echo "no peer harness at $B (expected ../shared/bench beside the project)" >&2; exit 2; }
PY="$B/.venv/bin/python"
SIZES="${SIZES:-small large}"
BENCHES="${BENCHES:-passthrough quality minhash mole langid engine neardup tokenizer parquet}"
PEERS="${PEERS:-1}"
REPS="${REPS:-3}"
WORK="${WORK:-$ROOT/.build/bench}"
PIPE="$ROOT/.build/release/pipe"
RESULTS="$WORK/results.jsonl"
STARTED_UTC="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
mkdir -p "$WORK"

[ -x "$PY" ] || "$B/setup_peer.sh"
[ -x "$PIPE" ] || (cd "$ROOT" && swift build -c release --product pipe)
OPS="$("$PIPE" ops)"
has_op() { grep -q "^$1@" <<<"$OPS"; }

# pipeline NAME SIZE GLOB STAGES_JSON [EXTRA_KEYS]: writes $WORK/NAME.json
pipeline() {
  cat > "$WORK/$1.json" <<JSON
{ "name": "$1", ${5:-}"inputs": [{ "id": "corpus", "paths": ["$3"] }], "stages": $4 }
JSON
}

# timed LABEL SIZE WORKERS PIPELINE [--vs ...]: one bench_run.py record
timed() {
  local label=$1 size=$2 workers=$3 name=$4; shift 4
  "$PY" "$B/bench_run.py" --label "$label" --corpus "$B/data/$size" --reps "$REPS" --results "$RESULTS" \
    --prep "rm -rf $WORK/run-$label" "$@" \
    -- "$PIPE" run "$WORK/$name.json" --run-dir "$WORK/run-$label" --workers "$workers" --no-progress
}

# paired_one_worker PIPELINE: sets PAIRED to bench_run.py arguments that run PIPELINE with one
# worker right after each two-worker run (A B A B ...), so that the speed-up is also taken pair
# by pair, which the machine's drift between two blocks of runs does not bias.
paired_one_worker() {
  PAIRED=(--vs "$PIPE run $WORK/$1.json --run-dir $WORK/run-paired-$1 --workers 1 --no-progress"
    --vs-prep "rm -rf $WORK/run-paired-$1" --vs-label "one worker, paired")
}

# The engine before this one, for the engine benchmark: a clone of this repository at that commit.
BASE_COMMIT=915b01b
BASE="$WORK/engine-$BASE_COMMIT"
if [[ " $BENCHES " == *" engine "* ]] && [ ! -x "$BASE/.build/release/pipe" ]; then
  echo "== building the engine before the open engine ($BASE_COMMIT) in $BASE =="
  rm -rf "$BASE"
  git clone -q "$ROOT" "$BASE"
  git -C "$BASE" checkout -q --detach "$BASE_COMMIT"
  (cd "$BASE" && swift build -c release --product pipe 2>&1 | tail -1)
fi

# curation NAME GLOB [EXTRA_KEYS]: the engine benchmark's pipeline in $WORK/NAME.json
curation() {
  pipeline "$1" "" "$2" '[
    { "id": "normalize", "op": "normalize@1", "inputs": ["corpus"] },
    { "id": "language", "op": "lang.id@1", "inputs": ["normalize"], "config": { "threshold": 0.65, "belowThreshold": "keep" } },
    { "id": "quality", "op": "quality.gopher@1", "inputs": ["language"],
      "config": { "minStopWords": 0, "minAvgWordLength": 1, "minAlphaWordsRatio": 0.4, "maxSymbolWordRatio": 0.5 } },
    { "id": "dedup", "op": "dedup.exact@1", "inputs": ["quality"], "config": { "lowercase": true } },
    { "id": "near-dedup", "op": "dedup.minhash@1", "inputs": ["dedup"] },
    { "id": "tokens", "op": "tokens.count@1", "inputs": ["near-dedup"], "config": { "groupBy": "language" } },
    { "id": "mixture", "op": "mixture.plan@1", "inputs": ["tokens"],
      "config": { "groupBy": "language", "policy": "temperature", "temperature": 3, "maxEpochs": 4 } },
    { "id": "sample", "op": "mixture.sample@1", "inputs": ["mixture"] } ], "output": { "from": "sample", "path": "output" }' \
    "\"seed\": 42, ${3:-}"
}

for size in $SIZES; do
  corpus="$B/data/$size"
  [ -f "$corpus/corpus_info.json" ] || "$PY" "$B/make_corpus.py" --size "$size"
  shards="$corpus/shards/*.jsonl.zst"

  if [[ " $BENCHES " == *" passthrough "* ]]; then
    # Read, parse, write zstd JSONL, one worker, beside zstd -dc | zstd -3. Run shards default to
    # level 1; the bench asks for 3 so that both sides compress alike.
    level3='"shardCompressionLevel": 3, '
    pipeline "passthrough-$size" "$size" "$shards" '[{ "id": "pass", "op": "passthrough@1", "inputs": ["corpus"] }]' \
      "$level3"
    echo "== passthrough on $size (one worker) vs zstd -dc | zstd -3 -c =="
    timed "pipe-passthrough-$size" "$size" 1 "passthrough-$size" \
      --vs "sh -c 'zstd -dcq $shards | zstd -3 -q -c > /dev/null'" --vs-label zstd-recompress
    # Peak memory does not grow with shard size: the same corpus as one big shard.
    big="$WORK/one-shard-$size/all.jsonl.zst"
    if [ ! -f "$big" ]; then
      mkdir -p "$(dirname "$big")"
      zstd -dcq $shards | zstd -3 -q -c > "$big"
    fi
    pipeline "passthrough-one-$size" "$size" "$big" '[{ "id": "pass", "op": "passthrough@1", "inputs": ["corpus"] }]' \
      "$level3"
    echo "== passthrough on $size as ONE shard (peak RSS vs many shards) =="
    REPS=1 timed "pipe-passthrough-one-shard-$size" "$size" 1 "passthrough-one-$size"
  fi

  if [[ " $BENCHES " == *" quality "* ]] && has_op quality.gopher && has_op quality.c4; then
    # The peer's recipe: Gopher repetition + Gopher quality + C4, datatrove defaults.
    pipeline "quality-$size" "$size" "$shards" '[
      { "id": "gopher", "op": "quality.gopher@1", "inputs": ["corpus"] },
      { "id": "c4", "op": "quality.c4@1", "inputs": ["gopher"] } ]'
    echo "== quality (gopher + c4) on $size: 1 and 2 workers =="
    # After the last run, the filters' own time (tasks.decide_seconds), for the filters-only
    # comparison with datatrove's per-step timers.
    timed "pipe-quality-$size-w1" "$size" 1 "quality-$size" \
      --eval "python3 $ROOT/Tests/Benchmarks/decide_seconds.py $WORK/run-pipe-quality-$size-w1"
    paired_one_worker "quality-$size"
    timed "pipe-quality-$size-w2" "$size" 2 "quality-$size" "${PAIRED[@]}"
    [ "$PEERS" = 1 ] && REPS=1 "$B/run_peer.sh" "$size" dt-quality | grep RESULT || true
  fi

  if [[ " $BENCHES " == *" minhash "* ]] && has_op dedup.minhash; then
    pipeline "minhash-$size" "$size" "$shards" '[{ "id": "minhash", "op": "dedup.minhash@1", "inputs": ["corpus"] }]'
    echo "== MinHash dedup on $size: 1 and 2 workers, recall and precision against the planted duplicates =="
    timed "pipe-minhash-$size-w1" "$size" 1 "minhash-$size" \
      --eval "$PY $B/eval_dedup.py --json $corpus $WORK/run-pipe-minhash-$size-w1/data/minhash"
    paired_one_worker "minhash-$size"
    timed "pipe-minhash-$size-w2" "$size" 2 "minhash-$size" "${PAIRED[@]}" \
      --eval "$PY $B/eval_dedup.py --json $corpus $WORK/run-pipe-minhash-$size-w2/data/minhash"
    # Version 2 at threshold 0.6 (the planted copies are at Jaccard 0.56 and above, the base
    # documents below 0.5 with each other): exact verification (its default), then the estimate.
    pipeline "minhash2-$size" "$size" "$shards" \
      '[{ "id": "minhash", "op": "dedup.minhash@2", "inputs": ["corpus"], "config": { "threshold": 0.6 } }]'
    pipeline "minhash2sig-$size" "$size" "$shards" \
      '[{ "id": "minhash", "op": "dedup.minhash@2", "inputs": ["corpus"], "config": { "threshold": 0.6, "verify": "signature" } }]'
    # One worker is what the peers (one process each) are compared with, as for version 1;
    # two workers give the speed-up.
    echo "== dedup.minhash@2 on $size, threshold 0.6, 1 and 2 workers: exact verification, then the signature's estimate =="
    for variant in minhash2 minhash2sig; do
      timed "pipe-$variant-$size-w1" "$size" 1 "$variant-$size" \
        --eval "$PY $B/eval_dedup.py --json $corpus $WORK/run-pipe-$variant-$size-w1/data/minhash"
      timed "pipe-$variant-$size-w2" "$size" 2 "$variant-$size" \
        --eval "$PY $B/eval_dedup.py --json $corpus $WORK/run-pipe-$variant-$size-w2/data/minhash"
    done
    [ "$PEERS" = 1 ] && REPS=1 "$B/run_peer.sh" "$size" ds-minhash-xxh dt-minhash-t1 | grep RESULT || true
  fi

  if [[ " $BENCHES " == *" mole "* ]] && has_op quality.mole; then
    # MOLE scoring: train once (counterfactuals of every document, then the evaluator), then
    # time only the scoring stage, forced to run again over the whole corpus.
    pipeline "mole-$size" "$size" "$shards" '[
      { "id": "cf", "op": "counterfactual.generate@1", "inputs": ["corpus"] },
      { "id": "train", "op": "evaluator.train@1", "inputs": ["cf"] },
      { "id": "score", "op": "quality.mole@1", "inputs": ["corpus"], "config": { "model": "train" } } ]'
    echo "== quality.mole scoring on $size (one worker; training is not timed) =="
    rm -rf "$WORK/run-mole-$size"
    /usr/bin/time -f "training run: %e s, peak RSS %M KiB" \
      "$PIPE" run "$WORK/mole-$size.json" --run-dir "$WORK/run-mole-$size" --workers 1 --no-progress > /dev/null
    "$PY" "$B/bench_run.py" --label "pipe-mole-score-$size-w1" --corpus "$corpus" --reps "$REPS" --results "$RESULTS" \
      -- "$PIPE" run "$WORK/mole-$size.json" --run-dir "$WORK/run-mole-$size" --workers 1 --no-progress --force score
  fi

  if [[ " $BENCHES " == *" langid "* ]] && has_op lang.id; then
    pipeline "langid-$size" "$size" "$shards" '[{ "id": "lang", "op": "lang.id@1", "inputs": ["corpus"], "config": { "belowThreshold": "keep" } }]'
    pipeline "langid2-$size" "$size" "$shards" '[{ "id": "lang", "op": "lang.id@2", "inputs": ["corpus"], "config": { "belowThreshold": "keep" } }]'
    echo "== lang.id@1 and lang.id@2 on $size (one worker; decide_seconds below are the stage's own time) =="
    timed "pipe-langid-$size-w1" "$size" 1 "langid-$size"
    timed "pipe-langid2-$size-w1" "$size" 1 "langid2-$size"
    for version in langid langid2; do
      sqlite3 "$WORK/run-pipe-$version-$size-w1/manifest.sqlite" \
        "SELECT '  $version: deciding ' || printf('%.2f', sum(decide_seconds)) || ' s' FROM tasks WHERE stage_id = 'lang'"
    done
  fi
  if [[ " $BENCHES " == *" engine "* ]]; then
    curation "curation-$size" "$shards"
    for workers in 1 2; do
      label="engine-$size-w$workers"
      echo "== curation pipeline on $size, $workers worker(s): this engine vs $BASE_COMMIT, pair by pair =="
      timed "$label" "$size" "$workers" "curation-$size" \
        --vs "$BASE/.build/release/pipe run $WORK/curation-$size.json --run-dir $WORK/run-before-$label --workers $workers --no-progress" \
        --vs-prep "rm -rf $WORK/run-before-$label" --vs-label "engine $BASE_COMMIT" \
        --eval "python3 $ROOT/Tests/Benchmarks/engine_eval.py $WORK/run-$label $WORK/run-before-$label"
    done
    curation "curation-lean-$size" "$shards" '"keepIntermediates": false, '
    echo "== curation pipeline on $size with keepIntermediates false (one run, one worker) =="
    REPS=1 timed "engine-lean-$size-w1" "$size" 1 "curation-lean-$size" \
      --eval "python3 $ROOT/Tests/Benchmarks/engine_eval.py --left $WORK/run-engine-lean-$size-w1"
  fi
done

if [[ " $BENCHES " == *" neardup "* ]] && has_op dedup.minhash; then
  # Real revisions (Python's standard library in 9 versions, Debian's installation guide for two
  # architectures): dedup.minhash beside datasketch at the same threshold and shingles.
  echo "== near-duplicates of real revisions at threshold 0.8: dedup.minhash beside datasketch =="
  [ -f "$ROOT/.build/neardup/pairs.jsonl.zst" ] || "$PY" "$ROOT/Tests/Benchmarks/neardup_set.py" --out "$ROOT/.build/neardup"
  "$PY" "$ROOT/Tests/Benchmarks/neardup_eval.py" --set "$ROOT/.build/neardup"
fi

if [[ " $BENCHES " == *" langid "* ]] && has_op lang.id; then
  # Held-out paragraphs of the language model (the test split make_langid_model.py sets
  # aside), beside lingua on one core.
  mkdir -p "$ROOT/.build/langid"
  [ -f "$ROOT/.build/langid/test.jsonl" ] || python3 "$ROOT/Sources/PipeStages/Language/Model/make_langid_model.py" \
    --dry-run --export-test "$ROOT/.build/langid/test.jsonl" > /dev/null
  echo "== lang.id beside lingua on held-out paragraphs, one core =="
  "$PY" "$ROOT/Tests/Benchmarks/langid_bench.py" --pipe "$PIPE" --out "$WORK/langid-paragraphs" "$ROOT/.build/langid/test.jsonl"
fi

if [[ " $BENCHES " == *" tokenizer "* ]]; then
  # The small corpus (35 MB of text) is enough for a throughput figure; the models' GGUF files
  # hold the tokenizers (make models installs them).
  echo "== tokenizers on the small corpus, one core: pipe tokenize beside Hugging Face tokenizers =="
  bash "$ROOT/Tests/PipeTestSupport/llm_server.sh" prepare smollm2 > /dev/null
  bash "$ROOT/Tests/PipeTestSupport/llm_server.sh" prepare qwen-0.5b > /dev/null
  "$PY" "$ROOT/Tests/Benchmarks/tokenizer_bench.py" --pipe "$PIPE" --reps "$REPS" --out "$WORK/tokenizers" \
    "$B"/data/small/shards/*.jsonl.zst
fi

if [[ " $BENCHES " == *" parquet "* ]]; then
  for size in $SIZES; do
    echo "== Parquet reading on $size, one core: pipe cat beside pyarrow (columns and rows) =="
    "$PY" "$ROOT/Tests/Benchmarks/parquet_bench.py" --pipe "$PIPE" --reps "$REPS" --out "$WORK/parquet-$size" \
      "$B"/data/"$size"/shards/*.jsonl.zst
  done
fi

echo
echo "== summary: this run's figures (median of runs; docs/s per core = docs/s / workers) =="
"$PY" - "$RESULTS" "$B/results" "$STARTED_UTC" <<'PYEOF'
import glob, json, os, sys
latest = {}
older = set()
for line in open(sys.argv[1]):
    r = json.loads(line)
    # Only this run's records: earlier runs' figures were measured in another state of the machine.
    if r.get("when_utc", "") >= sys.argv[3]:
        latest[r["label"]] = r
    else:
        older.add(r["label"])

def filters_only(r, p, corpus):
    """The filters' own time on both sides: pipe's tasks.decide_seconds (the last timed run) and
    datatrove's per-step timers (its stats.json, in the peer's log), which time each filter's
    calls and leave out reading, parsing and writing."""
    decide = (r.get("eval") or {}).get("decide_s")
    log = os.path.join(sys.argv[2], "logs", corpus, "dt-quality.log")
    steps = None
    if os.path.exists(log):
        for line in reversed(open(log).read().splitlines()):
            try:
                steps = json.loads(line)["stats"]
                break
            except (ValueError, KeyError, TypeError):
                continue
    if not decide or not steps:
        print("  filters only: not measured (no decide_seconds or no datatrove step timers)")
        return
    filters = {k.split(":", 1)[1].strip(): v.get("time_s", 0) for k, v in steps.items() if k.startswith("FILTER")}
    dt = sum(filters.values())
    mine = sum(decide.values())
    pipe_parts = ", ".join(f"{k} {v:.2f}" for k, v in decide.items())
    dt_parts = ", ".join(f"{k} {v:.1f}" for k, v in filters.items())
    docs = r["docs"]
    print(f"  {'filters only (time inside them)':34} pipe {mine:.2f} s, {docs / mine:.0f} docs/s ({pipe_parts}) "
          f"vs datatrove {dt:.1f} s, {docs / dt:.0f} docs/s ({dt_parts}): {dt / mine:.1f}x")

peers = {}
for path in glob.glob(os.path.join(sys.argv[2], "*.jsonl")):
    for line in open(path):
        r = json.loads(line)
        peers[(r["label"], r["corpus"])] = r
print(f"{'benchmark':36} {'MB/s':>7} {'docs/s':>9} {'per core':>9} {'RSS MiB':>8}  notes")
for label, r in latest.items():
    if label.startswith("engine-"):
        continue
    wall = r["wall_s"]["median"]
    workers = 2 if label.endswith("-w2") else 1
    docs = r["docs"] / wall
    note = ""
    if r.get("vs") and not label.endswith("-w2"):
        b = r["vs"]
        note = f"{b['label']} {r['jsonl_mb'] / b['wall_s']['median']:.0f} MB/s; pipe = {1 / r['ratio_wall_a_over_b']['median']:.0%} of it"
    if r.get("eval") and "recall" in r["eval"]:
        e = r["eval"]
        note += f" recall {e.get('recall')} precision {e.get('precision')}"
    if label.endswith("-w2") and label[:-1] + "1" in latest:
        one = latest[label[:-1] + "1"]
        note += f" speedup vs 1 worker {one['wall_s']['median'] / wall:.2f}x"
    if label.endswith("-w2") and r.get("ratio_wall_a_over_b"):
        pairs = r["ratio_wall_a_over_b"]
        note += (f" (paired runs: {1 / pairs['median']:.2f}x median,"
                 f" {1 / pairs['max']:.2f}x to {1 / pairs['min']:.2f}x)")
    print(f"{label:36} {r['jsonl_mb'] / wall:7.1f} {docs:9.0f} {docs / workers:9.0f} {r['peak_rss_mib']['median']:8.1f}  {note}")
    corpus = r["corpus"]
    if "-quality-" in label and label.endswith("-w1"):
        compared = ("dt-quality",)
    elif "-minhash" in label and label.endswith("-w1"):
        compared = ("ds-minhash-xxh", "dt-minhash-t1")
    else:
        compared = ()
    for peer in compared:
        p = peers.get((peer, corpus))
        if p:
            pdocs = p["docs"] / p["wall_s"]["median"]
            # Per CPU-second as well: both sides' CPU time, so work another thread did counts.
            by_cpu = (r["docs"] / r["cpu_s"]["median"]) / (p["docs"] / p["cpu_s"]["median"])
            print(f"  {peer:34} {'':7} {pdocs:9.0f} {pdocs:9.0f} {p['peak_rss_mib']['median']:8.1f}  "
                  f"pipe/peer per core = {docs / workers / pdocs:.1f}x by wall, {by_cpu:.1f}x by CPU "
                  f"(peer measured {p.get('when_utc', '?')})")
            if peer == "dt-quality":
                filters_only(r, p, corpus)
engine = [(label, r) for label, r in latest.items() if label.startswith("engine-") and "-lean-" not in label]
if engine:
    print()
    print("engine: the curation pipeline, this engine beside the one before it (medians; ratios taken pair by pair)")
    print(f"{'run':22} {'CPU s':>7} {'before':>7} {'CPU x':>6} {'wall s':>7} {'before':>7} {'RSS MiB':>8} {'before':>7} "
          f"{'data/ MB':>9} {'before':>7} {'output'}")
    for label, r in engine:
        b, e = r["vs"], r.get("eval") or {}
        cpu_x = 1 / r["ratio_cpu_a_over_b"]["median"] if r.get("ratio_cpu_a_over_b") else float("nan")
        same = "byte-identical" if e.get("output_identical") else f"DIFFERS: {e.get('output_differing')}"
        print(f"{label:22} {r['cpu_s']['median']:7.2f} {b['cpu_s']['median']:7.2f} {cpu_x:6.2f} "
              f"{r['wall_s']['median']:7.2f} {b['wall_s']['median']:7.2f} {r['peak_rss_mib']['median']:8.1f} "
              f"{b['peak_rss_mib']['median']:7.1f} {e.get('data_bytes', 0) / 1e6:9.1f} "
              f"{e.get('data_bytes_before', 0) / 1e6:7.1f} {same}")
        changed = [stage for stage, same in (e.get("rejects_identical_by_stage") or {}).items() if not same]
        if changed:
            print(f"{'':22} rejects not byte-identical: {', '.join(changed)}")
    for label, r in latest.items():
        if label.startswith("engine-lean-"):
            size = label.split("-")[2]
            info = json.load(open(os.path.join(os.path.dirname(sys.argv[2]), "data", size, "corpus_info.json")))
            compressed = info.get("zst_bytes") or info.get("compressed_bytes") or 0
            left = (r.get("eval") or {}).get("data_left_bytes", 0)
            share = f"{left / compressed:.1%} of the input's {compressed / 1e6:.1f} MB compressed" if compressed else ""
            print(f"{label:22} keepIntermediates false: data/ left after the run {left / 1e6:.1f} MB {share}")
    print("targets: CPU x >= 1.3; data/ written <= half of before; keepIntermediates false leaves <= 10% of the "
          "compressed input in data/; peak RSS no higher; output byte-identical")
left_out = sorted(older - set(latest))
if left_out:
    print(f"(not run this time, left out: {', '.join(left_out)})")
print("targets: passthrough >= 60% of zstd-recompress; quality filters >= 100x datatrove's (time inside "
      "the filters; the end-to-end ratio is printed beside it); minhash end to end >= 10x ds-minhash-xxh and "
      "100x dt-minhash-t1; 2 workers >= 1.8x one; tokenizers >= Hugging Face encode_batch on one thread; "
      "lang.id@2 >= 100x lingua on held-out paragraphs at accuracy no lower than lang.id@1's")
PYEOF
