#!/usr/bin/env bash
# How right a judge model is, on pairs built from real text (judge_pairs.py: a man page's own
# description against a truncated, an off-topic or a wrong one): runs `pipe` with llm.judge@1,
# the prompt agents.star@2 uses, both positions, and prints per model and per kind of worse
# answer how often each reading and each pair (both readings) preferred the good answer.
#
# usage: judge_check.sh [MODEL...]    (default: qwen-1.5b qwen-0.5b; names of models.conf)
# environment: PAIRS (default 60), PIPE (default .build/release/pipe), WORK (default runs/judge-check)
set -euo pipefail
cd "$(dirname "$0")/../.."
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(qwen-1.5b qwen-0.5b)
pipe="${PIPE:-.build/release/pipe}"
work="${WORK:-runs/judge-check}"
pairs="${PAIRS:-60}"
mkdir -p "$work"
python3 Tests/Benchmarks/judge_pairs.py "$work/pairs.jsonl.zst" --pairs "$pairs"
for model in "${models[@]}"; do
  url="$(bash Tests/PipeTestSupport/llm_server.sh start "$model" | tail -n 1)"
  cat >"$work/$model.json" <<JSON
{
  "name": "judge-check-$model",
  "inputs": [{ "id": "pairs", "paths": ["pairs.jsonl.zst"] }],
  "stages": [
    {
      "id": "judge", "op": "llm.judge@1", "inputs": ["pairs"],
      "config": {
        "endpoint": { "baseURL": "$url", "model": "$model", "maxConcurrentRequests": 2, "timeoutSeconds": 900 },
        "answer": "{metadata.good}", "reference": "{metadata.worse}"
      }
    }
  ],
  "output": { "from": "judge", "path": "output" }
}
JSON
  started=$SECONDS
  "$pipe" run "$work/$model.json" --run-dir "$work/run-$model" --no-progress >/dev/null
  echo "$model: judged in $((SECONDS - started)) s (answers cached in $work/run-$model)"
  zstd -dcq "$work/run-$model"/output/*.jsonl.zst | python3 -c '
import json, sys
from collections import defaultdict
model = sys.argv[1]
rows = defaultdict(lambda: [0, 0, 0, 0, 0])  # pairs, readings right, readings, pairs right, unparsable
for line in sys.stdin:
    record = json.loads(line)
    kind = record["metadata"]["kind"]
    readings = record["metadata"]["judgement"]["readings"]
    right = [r["preference"] == 1 for r in readings]
    for key in (kind, "all"):
        row = rows[key]
        row[0] += 1
        row[1] += sum(right)
        row[2] += len(readings)
        row[3] += all(right)
        row[4] += sum(r["verdict"] == "unparsable" for r in readings)
print("  %-10s %5s %15s %26s %10s" % ("kind", "pairs", "readings right", "pairs right (both orders)", "unparsable"))
for kind in ["truncated", "off-topic", "wrong", "all"]:
    if kind not in rows:
        continue
    n, rr, r, pr, u = rows[kind]
    print(f"  {kind:<10} {n:>5} {rr:>7}/{r:<3} {100*rr/r:5.1f}% {pr:>14}/{n:<3} {100*pr/n:5.1f}% {u:>10}")
' "$model"
done
