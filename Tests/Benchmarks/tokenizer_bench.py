#!/usr/bin/env python3
"""Tokenizer throughput on one core: `pipe tokenize --records --count` beside Hugging Face
`tokenizers`' `encode_batch` (one thread: RAYON_NUM_THREADS=1) on the same records.

pipe's figure is the whole command: reading the zstd shards, parsing each record and
tokenizing. The peer's is encode_batch alone, on texts already decoded in memory; so the
comparison leaves pipe the extra work. CPU seconds (user + system), median of --reps runs.
The token totals of both sides are printed too: they must be equal (tokenizer_check.py checks
every record's ids).
"""
import argparse, glob, json, os, resource, statistics, subprocess, sys, time

os.environ["RAYON_NUM_THREADS"] = "1"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokenizer_check  # noqa: E402  (the GGUF reader and the tokenizer.json writer)
from tokenizers import Tokenizer  # noqa: E402


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main():
    models_dir = os.path.expanduser(os.environ.get("PIPE_LLM_CACHE", "~/.cache/pipe-llm")) + "/models"
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pipe", default=".build/release/pipe")
    p.add_argument("--model", action="append", default=[], help="NAME=GGUF (default: smollm2 and qwen-0.5b)")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--out", default=".build/tokenizer-check")
    p.add_argument("shards", nargs="+")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    models = args.model or [f"smollm2={models_dir}/smollm2.gguf", f"qwen2={models_dir}/qwen-0.5b.gguf"]
    records = tokenizer_check.read_records(args.shards)
    texts = [text for _, text in records]
    megabytes = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts) / 1e6
    print(f"{len(texts)} records, {megabytes:.1f} MB of text")
    for spec in models:
        name, _, gguf = spec.partition("=")
        if not os.path.exists(gguf):
            print(f"{name}: {gguf} is missing (make models); skipped")
            continue
        json_path = os.path.join(args.out, f"{name}.tokenizer.json")
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(tokenizer_check.tokenizer_json(tokenizer_check.read_gguf_tokenizer(gguf)), f, ensure_ascii=False)
        reference = Tokenizer.from_file(json_path)
        peer, mine = [], []
        peer_tokens = pipe_tokens = 0
        for _ in range(args.reps):
            start = time.process_time()
            encodings = reference.encode_batch(texts, add_special_tokens=False)
            peer.append(time.process_time() - start)
            peer_tokens = sum(len(e.ids) for e in encodings)
            del encodings
            before = children_cpu()
            out = subprocess.run([args.pipe, "tokenize", "--tokenizer", gguf, "--records", "--count", *args.shards],
                                 capture_output=True, check=True).stdout
            mine.append(children_cpu() - before)
            pipe_tokens = sum(json.loads(line)["count"] for line in out.splitlines() if line.strip())
        p_cpu, m_cpu = statistics.median(peer), statistics.median(mine)
        print(f"{name}: pipe {megabytes / m_cpu:6.2f} MB/s ({m_cpu:.2f} s CPU, reading and parsing included)  "
              f"HF tokenizers encode_batch {megabytes / p_cpu:6.2f} MB/s ({p_cpu:.2f} s CPU)  "
              f"pipe/HF {p_cpu / m_cpu:.2f}x  tokens {pipe_tokens} / {peer_tokens}"
              f"{'' if pipe_tokens == peer_tokens else '  (TOTALS DIFFER)'}")


if __name__ == "__main__":
    main()
