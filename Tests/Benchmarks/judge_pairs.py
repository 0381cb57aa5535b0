#!/usr/bin/env python3
"""Builds a judge test set from real text: man pages of commands on this machine.

Each pair asks what a command does. The good answer is the man page's own summary and the
first paragraph of its DESCRIPTION; the worse answer is one of:
  truncated  the good answer cut off after a third of its words, mid-sentence;
  off-topic  another command's summary and description (naming that other command);
  wrong      another command's summary and description, told as if it were this command's.

Writes one JSON record per pair (id, text = the question, metadata.question/good/worse/kind),
as a zstd-compressed JSONL shard that `pipe` reads, to the path given. Standard library only,
plus the `man` and `zstd` commands. Deterministic for a given machine: the commands are a fixed
list and the choices come from a seeded generator.

usage: judge_pairs.py OUT.jsonl.zst [--pairs N] [--seed S]
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys

# Commands of coreutils, util-linux, findutils, grep, sed, tar and gzip: on every Debian.
COMMANDS = """basename cat chmod chown cksum comm cp cut date dd df dirname du echo env expand
expr factor false fmt fold head hostname id join kill link ln logname ls mkdir mkfifo mknod mktemp
mv nice nl nohup nproc od paste pathchk pr printenv printf ptx pwd readlink realpath rm rmdir seq
shred shuf sleep sort split stat stty sum sync tac tail tee test timeout touch tr true truncate tsort
tty uname unexpand uniq unlink uptime users wc who whoami yes find xargs grep sed tar gzip""".split()


def page(command):
    """(summary, first description paragraph) of the command's man page, or None."""
    env = dict(os.environ, MANWIDTH="2000", LC_ALL="C")
    try:
        text = subprocess.run(
            ["man", "-P", "cat", "1", command], capture_output=True, text=True, env=env, timeout=30
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    sections, name = {}, None
    for line in text.splitlines():
        if re.match(r"^[A-Z][A-Z ]+$", line):
            name = line.strip()
            sections[name] = []
        elif name:
            sections[name].append(line.strip())
    summary_lines = " ".join(sections.get("NAME", [])).strip()
    match = re.match(r"^(.+?)\s+-+\s+(.+)$", summary_lines)
    if not match:
        return None
    paragraphs, current = [], []
    for line in sections.get("DESCRIPTION", []) + [""]:
        if line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    # The first paragraph of prose (option lists start with a dash).
    prose = next((p for p in paragraphs if not p.startswith("-") and len(p.split()) >= 8), None)
    if prose is None:
        return None
    words = prose.split()
    if len(words) > 70:
        prose = " ".join(words[:70])
        prose = prose[: prose.rfind(".") + 1] or prose
    return match.group(2).strip().rstrip("."), prose


def answer(command, summary, description):
    return f"The `{command}` command is used to {summary[0].lower() + summary[1:]}. {description}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--pairs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    pages = {}
    for command in COMMANDS:
        found = page(command)
        if found:
            pages[command] = found
    if len(pages) < 10:
        sys.exit(f"judge_pairs: only {len(pages)} man pages found; install man-db and the manpages of coreutils")
    rng = random.Random(args.seed)
    commands = sorted(pages)
    kinds = ["truncated", "off-topic", "wrong"]
    records = []
    for index in range(args.pairs):
        command = commands[index % len(commands)] if args.pairs <= len(commands) else rng.choice(commands)
        summary, description = pages[command]
        good = answer(command, summary, description)
        kind = kinds[index % len(kinds)]
        if kind == "truncated":
            words = good.split()
            worse = " ".join(words[: max(6, len(words) // 3)]).rstrip(".,;:")
        else:
            other = rng.choice([c for c in commands if c != command and pages[c][0] != summary])
            other_summary, other_description = pages[other]
            if kind == "off-topic":
                worse = answer(other, other_summary, other_description)
            else:
                worse = answer(command, other_summary, other_description.replace(other, command))
        question = f"What does the `{command}` command do? Explain briefly."
        records.append(
            {
                "id": f"judge-{index:04d}",
                "text": question,
                "metadata": {"question": question, "good": good, "worse": worse, "kind": kind, "command": command},
            }
        )
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    subprocess.run(["zstd", "-q", "-f", "-o", args.out], input=data, check=True)
    counts = {k: sum(r["metadata"]["kind"] == k for r in records) for k in kinds}
    print(f"judge_pairs: {len(records)} pairs from {len(pages)} man pages ({counts}) -> {args.out}")


if __name__ == "__main__":
    main()
