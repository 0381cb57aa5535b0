#!/usr/bin/env bash
# dedup.minhash@1 on a bench corpus: recall and precision against the planted duplicates,
# docs/s with 1 and 2 workers, peak RSS, byte-identical output for any worker count and
# memory cap, and datatrove's recipe (14 bands x 8 rows, no verification) for comparison.
#
#   bash Tests/Benchmarks/minhash_eval.sh small          # or large
#   REPS=5 bash Tests/Benchmarks/minhash_eval.sh large   # timing repetitions (default 3, median kept)
#
# Uses .build/release/pipe of the repository this script lives in (built if missing) and the
# corpora and scorer of ../shared/bench (make_corpus.py, eval_dedup.py). Prints figures, asserts
# nothing about speed; exits 1 if the outputs for 1 and 2 workers (or two memory caps) differ.
# On a shared machine compare CPU seconds as well as wall time: another process on the other
# core slows the 2-worker run.
set -euo pipefail
SIZE="${1:-small}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
B="${BENCH_DIR:-$ROOT/../shared/bench}"
PY="$B/.venv/bin/python"
PIPE="$ROOT/.build/release/pipe"
REPS="${REPS:-3}"
WORK="${WORK:-$ROOT/.build/minhash-eval/$SIZE}"
CORPUS="$B/data/$SIZE"
[ -f "$CORPUS/corpus_info.json" ] || { echo "no corpus at $CORPUS: run $B/make_corpus.py --size $SIZE" >&2; exit 2; }
[ -x "$PIPE" ] || (cd "$ROOT" && swift build -c release --product pipe)
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
mkdir -p "$WORK"
DOCS=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["docs"])' "$CORPUS/corpus_info.json")

# pipeline NAME GLOB CONFIG_JSON: writes $WORK/NAME.json
pipeline() {
  cat > "$WORK/$1.json" <<JSON
{ "name": "$1", "seed": 1, "inputs": [{ "id": "corpus", "paths": ["$2"] }],
  "stages": [{ "id": "minhash", "op": "dedup.minhash@1", "inputs": ["corpus"], "config": $3 }] }
JSON
}

# timed NAME WORKERS: runs NAME REPS times into $WORK/run-NAME-wW; prints the median run's
# wall, CPU and peak RSS, and docs/s
timed() {
  local name=$1 workers=$2 dir="$WORK/run-$1-w$2" rows=()
  for _ in $(seq "$REPS"); do
    rm -rf "$dir"
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.txt" "$PIPE" run "$WORK/$name.json" --run-dir "$dir" \
      --workers "$workers" --no-progress > /dev/null
    rows+=("$(cat "$WORK/time.txt")")
  done
  printf '%s\n' "${rows[@]}" | sort -n | awk -v docs="$DOCS" -v label="$name, $workers worker(s)" \
    '{ w[NR] = $1; c[NR] = $2 + $3; r[NR] = $4 } END { m = int((NR + 1) / 2);
       printf "  %-34s wall %6.2f s  cpu %6.2f s  %8.0f docs/s  peak RSS %5.0f MiB\n", label, w[m], c[m], docs / w[m], r[m] / 1024 }'
}

# quality DIR: recall and precision of the kept records
quality() {
  "$PY" "$B/eval_dedup.py" --json "$CORPUS" "$1/data/minhash" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
print("  recall %s  precision %s  (removed %s, false positives %s, near-duplicate recall %s, exact %s)" % (
    d["recall"], d["precision"], d["docs_removed"], d["false_pos"], d["recall_near"], d["recall_exact"]))'
}

# same A B: byte-identical data, rejects and artifacts
same() {
  for part in data rejects artifacts; do
    if ! diff -r "$1/$part" "$2/$part" > /dev/null; then
      echo "  DIFFERENT: $part of $(basename "$1") and $(basename "$2")"
      return 1
    fi
  done
  echo "  identical: data, rejects and artifacts of $(basename "$1") and $(basename "$2")"
}

shards="$CORPUS/shards/*.jsonl.zst"
status=0
echo "== dedup.minhash@1 defaults on $SIZE ($DOCS docs) =="
pipeline defaults "$shards" '{}'
timed defaults 1
quality "$WORK/run-defaults-w1"
timed defaults 2
same "$WORK/run-defaults-w1" "$WORK/run-defaults-w2" || status=1
"$PIPE" inspect "$WORK/run-defaults-w1" | sed -n '/^counters:/,$p'

echo "== datatrove's recipe (bands 14, rows 8, minSimilarity 0) and its exact permutations =="
pipeline datatrove "$shards" '{ "bands": 14, "rows": 8, "minSimilarity": 0, "signature": "permutations" }'
REPS=1 timed datatrove 1
quality "$WORK/run-datatrove-w1"

echo "== memory cap: the corpus as ONE shard, memoryCapMB 512 / 64 / 16 (1 worker) =="
big="$WORK/one-shard/all.jsonl.zst"
if [ ! -f "$big" ]; then
  mkdir -p "$(dirname "$big")"
  zstd -dcq $shards | zstd -3 -q -c > "$big"
fi
for cap in 512 64 16; do
  pipeline "one-cap$cap" "$big" "{ \"memoryCapMB\": $cap }"
  REPS=1 timed "one-cap$cap" 1
  "$PIPE" inspect "$WORK/run-one-cap$cap-w1" | grep -o 'spilled_runs [0-9]*' | sed 's/^/  /' || true
done
same "$WORK/run-one-cap512-w1" "$WORK/run-one-cap16-w1" || status=1
pipeline passthrough-one "$big" '{}'
sed -i 's/"op": "dedup.minhash@1"/"op": "passthrough@1"/' "$WORK/passthrough-one.json"
REPS=1 timed passthrough-one 1
echo "  (passthrough on the same shard: the engine's own RSS, without dedup structures)"
exit $status
