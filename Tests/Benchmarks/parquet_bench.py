#!/usr/bin/env python3
"""Parquet reading on one core: `pipe cat FILE.parquet` (rows to JSON records) beside pyarrow
reading the same file, as columns (`pq.read_table`) and as rows (`to_pylist` per batch, what
a Python pipeline such as datatrove's ParquetReader hands its steps).

The file is the bench corpus written by pyarrow (id, text and the metadata fields as columns),
once with pyarrow's defaults (Snappy, dictionary, 1 MB pages) and once with zstd; a third file
has row groups of 100 rows (hundreds of row groups) for pipe's peak memory. CPU seconds, median
of --reps; peak RSS from /usr/bin/time.
"""
import argparse, json, os, resource, statistics, subprocess, sys, time

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokenizer_check  # noqa: E402  (reads the bench shards)


def corpus_table(shards):
    import zstandard
    rows = {"id": [], "text": [], "url": [], "lang": [], "source": [], "kind": []}
    for path in shards:
        raw = zstandard.ZstdDecompressor().stream_reader(open(path, "rb")).read()
        for line in raw.split(b"\n"):
            if not line.strip():
                continue
            record = json.loads(line)
            rows["id"].append(record["id"])
            rows["text"].append(record["text"])
            meta = record.get("metadata") or {}
            for key in ("url", "lang", "source", "kind"):
                rows[key].append(None if meta.get(key) is None else str(meta.get(key)))
    return pa.table(rows)


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pipe", default=".build/release/pipe")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--out", default=".build/parquet-bench")
    p.add_argument("shards", nargs="+")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    table = corpus_table(args.shards)
    text_mb = sum(len(t.encode("utf-8", "surrogatepass")) for t in table.column("text").to_pylist()) / 1e6
    files = {"snappy (pyarrow defaults)": os.path.join(args.out, "corpus-snappy.parquet"),
             "zstd": os.path.join(args.out, "corpus-zstd.parquet")}
    pq.write_table(table, files["snappy (pyarrow defaults)"])
    pq.write_table(table, files["zstd"], compression="zstd")
    print(f"{table.num_rows} rows, {text_mb:.1f} MB of text")
    for name, path in files.items():
        mine, columns, rows = [], [], []
        for _ in range(args.reps):
            before = children_cpu()
            subprocess.run([args.pipe, "cat", path], stdout=subprocess.DEVNULL, check=True)
            mine.append(children_cpu() - before)
            start = time.process_time()
            pq.read_table(path, use_threads=False)
            columns.append(time.process_time() - start)
            start = time.process_time()
            for batch in pq.ParquetFile(path).iter_batches(use_threads=False):
                batch.to_pylist()
            rows.append(time.process_time() - start)
        m, c, r = (statistics.median(x) for x in (mine, columns, rows))
        size = os.path.getsize(path) / 1e6
        print(f"  {name:26} {size:5.1f} MB file: pipe cat {text_mb / m:6.1f} MB/s ({m:.2f} s)  "
              f"pyarrow read_table {text_mb / c:6.1f} MB/s ({c:.2f} s)  pyarrow rows {text_mb / r:6.1f} MB/s ({r:.2f} s)  "
              f"pipe/rows {r / m:.2f}x  pipe/read_table {c / m:.2f}x")
    many = os.path.join(args.out, "corpus-row-groups.parquet")
    pq.write_table(table, many, row_group_size=100, compression="zstd")
    groups = pq.ParquetFile(many).metadata.num_row_groups
    result = subprocess.run(["/usr/bin/time", "-f", "%M", args.pipe, "cat", many], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, check=True, text=True)
    rss = int(result.stderr.strip().splitlines()[-1]) / 1024
    print(f"  {groups} row groups of 100 rows ({os.path.getsize(many) / 1e6:.1f} MB file): pipe cat peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
