#!/usr/bin/env python3
"""What the engine benchmark prints beside the times: bytes on disk and byte identity.

  engine_eval.py NEW_RUN OLD_RUN    -> JSON: data/ rejects/ artifacts/ bytes of both runs,
                                        whether output/ is byte-identical, which files differ
  engine_eval.py --left RUN         -> JSON: bytes left in RUN/data after the run

"data/" is what the engine wrote of the stages' kept records: every stage's before the open
engine, only the materialized ones (and nothing that was deleted after use) since.
"""

import hashlib
import json
import os
import sys


def tree_bytes(folder):
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    return total


def digests(folder):
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return found


def compare(new, old):
    a, b = digests(new), digests(old)
    return sorted(name for name in set(a) | set(b) if a.get(name) != b.get(name))


def main():
    if sys.argv[1] == "--left":
        run = sys.argv[2]
        print(json.dumps({"data_left_bytes": tree_bytes(os.path.join(run, "data"))}))
        return
    new, old = sys.argv[1], sys.argv[2]
    result = {}
    for part in ("data", "rejects", "artifacts"):
        result[f"{part}_bytes"] = tree_bytes(os.path.join(new, part))
        result[f"{part}_bytes_before"] = tree_bytes(os.path.join(old, part))
    differing = compare(os.path.join(new, "output"), os.path.join(old, "output"))
    result["output_files"] = len(digests(os.path.join(new, "output")))
    result["output_identical"] = not differing and result["output_files"] > 0
    result["output_differing"] = differing[:10]
    # Rejects, by stage: the same records and reasons are expected; the engine before this one
    # printed its mixture plan's rates with last digits that changed from process to process.
    rejects = {}
    for stage in sorted(os.listdir(os.path.join(old, "rejects"))) if os.path.isdir(os.path.join(old, "rejects")) else []:
        rejects[stage] = not compare(os.path.join(new, "rejects", stage), os.path.join(old, "rejects", stage))
    result["rejects_identical_by_stage"] = rejects
    print(json.dumps(result))


if __name__ == "__main__":
    main()
