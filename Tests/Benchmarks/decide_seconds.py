"""Prints, as one JSON line, each stage's task seconds and decide seconds (the time inside the
stage's own decisions, `tasks.decide_seconds`) from a run directory's manifest.

    python3 decide_seconds.py RUN_DIR

make bench runs it after the last timed run of a pipeline (bench_run.py --eval), so the filters'
own time can be set beside datatrove's per-step timers, which measure the same thing.
"""
import json
import sqlite3
import sys

db = sqlite3.connect(f"file:{sys.argv[1]}/manifest.sqlite?mode=ro", uri=True)
rows = db.execute(
    "SELECT stage_id, sum(duration_seconds), sum(decide_seconds), sum(records_in) FROM tasks "
    "WHERE status = 'done' GROUP BY stage_id ORDER BY min(id)").fetchall()
print(json.dumps({
    "task_s": {stage: round(task, 3) for stage, task, _, _ in rows},
    "decide_s": {stage: round(decide, 3) for stage, _, decide, _ in rows if decide is not None},
    "records_in": {stage: records for stage, _, _, records in rows},
}))
