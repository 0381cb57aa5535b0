#!/usr/bin/env bash
# make mixture-check: rebalancing on the ../shared/bench corpora, grouped by metadata.lang.
#
#   bash Tests/Benchmarks/mixture_check.sh              # small corpus
#   SIZES="small large" POLICY=unimax bash Tests/Benchmarks/mixture_check.sh
#
# For each corpus: plans a mixture (temperature T=3 by default), samples it with 1 and 2
# workers and once more after a SIGKILL and `pipe resume`, checks the three outputs are
# byte-identical, and prints planned against realized token shares per group with the largest
# gap in percentage points. Exits 1 when outputs differ or a gap exceeds 2 points.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
B="${BENCH_DIR:-$ROOT/../shared/bench}"
SIZES="${SIZES:-small}"
POLICY_JSON="${POLICY_JSON:-\"policy\": \"temperature\", \"temperature\": 3, \"maxEpochs\": 4}"
WORK="${WORK:-$ROOT/.build/mixture-check}"
PIPE="$ROOT/.build/release/pipe"
[ -x "$PIPE" ] || (cd "$ROOT" && swift build -c release --product pipe)
mkdir -p "$WORK"
status=0

for size in $SIZES; do
  corpus="$B/data/$size"
  [ -f "$corpus/corpus_info.json" ] || { echo "no $size corpus at $corpus: see $B/README.md" >&2; exit 2; }
  cat > "$WORK/mixture-$size.json" <<JSON
{ "name": "mixture-$size", "seed": 5, "inputs": [{ "id": "corpus", "paths": ["$corpus/shards/*.jsonl.zst"] }],
  "stages": [
    { "id": "tokens", "op": "tokens.count@1", "inputs": ["corpus"], "config": { "groupBy": "lang" } },
    { "id": "plan", "op": "mixture.plan@1", "inputs": ["tokens"], "config": { "groupBy": "lang", $POLICY_JSON } },
    { "id": "sample", "op": "mixture.sample@1", "inputs": ["plan"] } ],
  "output": { "from": "sample", "path": "out" } }
JSON
  rm -rf "$WORK/$size-w1" "$WORK/$size-w2" "$WORK/$size-killed"
  echo "== mixture on $size: 1 worker, 2 workers, killed + resumed =="
  /usr/bin/time -f "w1: %e s, peak RSS %M KiB" "$PIPE" run "$WORK/mixture-$size.json" --run-dir "$WORK/$size-w1" \
    --workers 1 --no-progress > /dev/null
  /usr/bin/time -f "w2: %e s, peak RSS %M KiB" "$PIPE" run "$WORK/mixture-$size.json" --run-dir "$WORK/$size-w2" \
    --workers 2 --no-progress > /dev/null
  tasks=$(sqlite3 "$WORK/$size-w1/manifest.sqlite" "SELECT count(*) FROM tasks")
  PIPE_FAULT="kill-after-tasks=$((tasks / 2))" "$PIPE" run "$WORK/mixture-$size.json" --run-dir "$WORK/$size-killed" \
    --workers 2 --no-progress > /dev/null 2>&1 && { echo "the kill did not happen" >&2; exit 1; } || true
  "$PIPE" resume "$WORK/$size-killed" --workers 2 --no-progress > /dev/null
  for other in w2 killed; do
    if diff -r "$WORK/$size-w1/out" "$WORK/$size-$other/out" > /dev/null; then
      echo "output of $other: identical to 1 worker"
    else
      echo "output of $other: DIFFERS from 1 worker"
      status=1
    fi
  done
  "$PIPE" inspect "$WORK/$size-w1" --json > "$WORK/$size-inspect.json"
  python3 - "$WORK/$size-inspect.json" "$WORK/$size-w1/out" <<'PY' || status=1
import glob, json, subprocess, sys
plans = json.load(open(sys.argv[1]))["mixturePlans"]
plan = {g["group"]: g for g in plans[0]["groups"]}
tokens = {}
for path in sorted(glob.glob(sys.argv[2] + "/*.jsonl.zst")):
    data = subprocess.run(["zstd", "-dcq", path], capture_output=True, check=True).stdout
    for line in data.splitlines():
        meta = json.loads(line)["metadata"]
        group = meta["mixture"]["group"]
        tokens[group] = tokens.get(group, 0) + meta["tokens"]
total = sum(tokens.values())
rows = sorted(plan.values(), key=lambda g: -g["shareAfter"])
print(f"{'group':10} {'docs':>6} {'before':>7} {'planned':>8} {'realized':>9} {'gap pp':>7}")
worst = 0.0
for g in rows:
    realized = tokens.get(g["group"], 0) / total
    gap = (realized - g["shareAfter"]) * 100
    worst = max(worst, abs(gap))
    if g in rows[:12]:
        print(f"{g['group']:10} {g['records']:6d} {g['shareBefore']*100:6.2f}% {g['shareAfter']*100:7.2f}% "
              f"{realized*100:8.2f}% {gap:+7.2f}")
print(f"groups: {len(rows)}, largest gap between planned and realized share: {worst:.2f} percentage points")
sys.exit(0 if worst <= 2.0 else 1)
PY
done
exit $status
