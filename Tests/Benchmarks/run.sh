#!/usr/bin/env bash
# make bench: pipe's figures beside the peers', measured in the same run of the machine.
#
#   bash Tests/Benchmarks/run.sh            # small and large corpora
#   SIZES=small bash Tests/Benchmarks/run.sh
#   PEERS=1 ...                             # also time datatrove's passthrough (slow)
#
# Needs ../shared/bench (the peer harness). Sets up its venv and corpora when missing.
# Benchmarks, not tests: nothing here asserts a time; it prints figures and ratios.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
B="${BENCH_DIR:-$ROOT/../shared/bench}"
[ -d "$B" ] || { echo "no peer harness at $B (expected ../shared/bench beside the project)" >&2; exit 2; }
PY="$B/.venv/bin/python"
SIZES="${SIZES:-small large}"
REPS="${REPS:-3}"
WORK="${WORK:-$ROOT/.build/bench}"
PIPE="$ROOT/.build/release/pipe"
RESULTS="$WORK/results.jsonl"
mkdir -p "$WORK"

[ -x "$PY" ] || "$B/setup_peer.sh"
[ -x "$PIPE" ] || (cd "$ROOT" && swift build -c release --product pipe)

for size in $SIZES; do
  corpus="$B/data/$size"
  [ -f "$corpus/corpus_info.json" ] || "$PY" "$B/make_corpus.py" --size "$size"

  # Passthrough: read, parse, write zstd JSONL (level 3), one worker, beside zstd -dc | zstd -3.
  cat > "$WORK/passthrough-$size.json" <<JSON
{ "name": "passthrough-$size",
  "inputs": [{ "id": "corpus", "paths": ["$corpus/shards/*.jsonl.zst"] }],
  "stages": [{ "id": "pass", "op": "passthrough@1", "inputs": ["corpus"] }] }
JSON
  echo "== passthrough on $size (one worker) vs zstd -dc | zstd -3 -c =="
  "$PY" "$B/bench_run.py" --label "pipe-passthrough-$size" --corpus "$corpus" --reps "$REPS" \
    --results "$RESULTS" --prep "rm -rf $WORK/run-pass-$size" \
    --vs "sh -c 'zstd -dcq $corpus/shards/*.jsonl.zst | zstd -3 -q -c > /dev/null'" --vs-label zstd-recompress \
    -- "$PIPE" run "$WORK/passthrough-$size.json" --run-dir "$WORK/run-pass-$size" --workers 1 --no-progress

  # Peak memory does not grow with shard size: the same corpus as one big shard.
  big="$WORK/one-shard-$size/all.jsonl.zst"
  if [ ! -f "$big" ]; then
    mkdir -p "$(dirname "$big")"
    zstd -dcq "$corpus"/shards/*.jsonl.zst | zstd -3 -q -c > "$big"
  fi
  cat > "$WORK/passthrough-one-$size.json" <<JSON
{ "name": "passthrough-one-$size",
  "inputs": [{ "id": "corpus", "paths": ["$big"] }],
  "stages": [{ "id": "pass", "op": "passthrough@1", "inputs": ["corpus"] }] }
JSON
  echo "== passthrough on $size as ONE shard (peak RSS vs many shards) =="
  "$PY" "$B/bench_run.py" --label "pipe-passthrough-one-shard-$size" --corpus "$corpus" --reps 1 \
    --results "$RESULTS" --prep "rm -rf $WORK/run-one-$size" \
    -- "$PIPE" run "$WORK/passthrough-one-$size.json" --run-dir "$WORK/run-one-$size" --workers 1 --no-progress

  if [ "${PEERS:-0}" = 1 ]; then
    REPS=1 "$B/run_peer.sh" "$size" dt-passthrough
  fi
done

echo
echo "== summary: this run's figures (one worker; median of the paired runs) =="
"$PY" - "$RESULTS" <<'PYEOF'
import json, sys
latest = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    latest[r["label"]] = r
print(f"{'benchmark':38} {'MB/s':>8} {'docs/s':>9} {'peak RSS':>9}  vs peer")
for label, r in latest.items():
    wall = r["wall_s"]["median"]
    mbps = r["jsonl_mb"] / wall
    rss = r["peak_rss_mib"]["median"]
    peer = ""
    if r.get("vs"):
        b = r["vs"]
        b_mbps = r["jsonl_mb"] / b["wall_s"]["median"]
        share = 1 / r["ratio_wall_a_over_b"]["median"]
        peer = f"{b['label']} {b_mbps:.0f} MB/s; pipe = {share:.0%} of it (paired wall ratio)"
    print(f"{label:38} {mbps:8.1f} {r['docs']/wall:9.0f} {rss:7.1f}Mi  {peer}")
print("target: passthrough >= 60% of zstd-recompress's MB/s; peak RSS flat from many shards to one big shard")
PYEOF
