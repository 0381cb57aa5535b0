#!/usr/bin/env python3
"""Checks pipe's Parquet reader against pyarrow, record by record.

Writes Parquet files with pyarrow in every combination pipe reads (codec: none, snappy, zstd;
data page version 1.0 and 2.0; dictionary encoding on and off), a file with 150 row groups,
and reads each with `pipe cat` and with pyarrow. pyarrow's rows are turned into the records
pipe makes (id and text columns out, every other column in metadata; NaN as null, binary that
is not UTF-8 as base64, ids as strings) and compared. Exit status 1 on any difference.

  parquet_check.py [--pipe .build/release/pipe] [--out DIR] [--rows N]
  parquet_check.py --fixtures Tests/PipeIOTests/Fixtures/parquet   # small files + expected JSONL for the Swift tests
"""
import argparse, base64, json, math, os, random, subprocess, sys

import pyarrow as pa
import pyarrow.parquet as pq

WORDS = ("the river stone north field paper light quiet metal année 中文 ภาษา مرحبا 👍🏽 "
         "tab\there quote\" back\\slash new\nline").split(" ")


def table(rows, seed=1, long_text=False):
    rng = random.Random(seed)
    ids, texts, n, i32, f, f32, flag, tags, nums, blob = ([] for _ in range(10))
    for row in range(rows):
        ids.append(f"doc-{row:06d}")
        if row % 17 == 5:
            texts.append(None)
        elif row % 13 == 3:
            texts.append("")
        else:
            count = rng.randint(200, 800) if long_text else rng.randint(1, 30)
            texts.append(" ".join(rng.choice(WORDS) for _ in range(count)))
        n.append(None if row % 7 == 0 else rng.randint(-2**62, 2**62))
        i32.append(rng.randint(-2**31, 2**31 - 1))
        f.append(float("nan") if row % 11 == 4 else (None if row % 5 == 2 else rng.uniform(-1e6, 1e6)))
        f32.append(rng.uniform(-10, 10))
        flag.append(None if row % 9 == 1 else rng.random() < 0.5)
        tags.append(None if row % 8 == 3 else ([] if row % 8 == 5 else
                    [None if rng.random() < 0.1 else rng.choice(WORDS) for _ in range(rng.randint(1, 4))]))
        nums.append([rng.randint(0, 9) for _ in range(rng.randint(0, 3))])
        blob.append(bytes([rng.randint(0, 255) for _ in range(rng.randint(0, 6))]) if row % 3 else b"plain ascii")
    return pa.table({
        "id": pa.array(ids, pa.string()), "text": pa.array(texts, pa.string()),
        "n": pa.array(n, pa.int64()), "i32": pa.array(i32, pa.int32()), "f": pa.array(f, pa.float64()),
        "f32": pa.array(f32, pa.float32()), "flag": pa.array(flag, pa.bool_()),
        "tags": pa.array(tags, pa.list_(pa.string())), "nums": pa.array(nums, pa.list_(pa.int64())),
        "blob": pa.array(blob, pa.binary()),
    })


def jsonable(value):
    if isinstance(value, float):
        return None if not math.isfinite(value) else value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(value).decode("ascii")
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def expected_records(path, text="text", id_key="id"):
    records = []
    for row in pq.read_table(path).to_pylist():
        record = {}
        if row.get(id_key) is not None:
            record["id"] = str(row[id_key])
        record["text"] = jsonable(row.get(text))
        record["metadata"] = {k: jsonable(v) for k, v in row.items() if k not in (text, id_key)}
        records.append(record)
    return records


def pipe_records(pipe, path):
    out = subprocess.run([pipe, "cat", path], capture_output=True)
    if out.returncode != 0:
        return None, out.stderr.decode()
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()], ""


def variants():
    for codec in ("none", "snappy", "zstd"):
        for version in ("1.0", "2.0"):
            for dictionary in (True, False):
                yield f"{codec}-v{version[0]}-{'dict' if dictionary else 'plain'}", dict(
                    compression=codec, data_page_version=version, use_dictionary=dictionary)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pipe", default=".build/release/pipe")
    p.add_argument("--out", default=".build/parquet-check")
    p.add_argument("--rows", type=int, default=3000)
    p.add_argument("--fixtures", help="write small files and their expected records here, then stop")
    args = p.parse_args()
    if args.fixtures:
        os.makedirs(args.fixtures, exist_ok=True)
        expected = None
        for name, options in variants():
            path = os.path.join(args.fixtures, name + ".parquet")
            # Small pages and row groups, so each file has several of each.
            pq.write_table(table(30, seed=3), path, data_page_size=512, row_group_size=20, **options)
            records = expected_records(path)
            assert expected is None or records == expected, name
            expected = records
        with open(os.path.join(args.fixtures, "expected.jsonl"), "w") as f:
            for record in expected:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        # What pipe refuses, each with a message naming the column and the feature.
        small = table(5, seed=4)
        pq.write_table(small, os.path.join(args.fixtures, "unsupported-gzip.parquet"), compression="gzip")
        pq.write_table(small, os.path.join(args.fixtures, "unsupported-delta.parquet"), use_dictionary=False,
                       column_encoding={"n": "DELTA_BINARY_PACKED"})
        nested = pa.table({"text": ["a", "b"], "info": pa.array([{"x": 1}, {"x": 2}])})
        pq.write_table(nested, os.path.join(args.fixtures, "unsupported-struct.parquet"))
        pq.write_table(pa.table({"body": ["first", "second"], "uid": [7, 8], "text": [1, 2]}),
                       os.path.join(args.fixtures, "columns.parquet"))
        print(f"fixtures written to {args.fixtures} (pyarrow {pa.__version__})")
        return
    os.makedirs(args.out, exist_ok=True)
    ok = True
    files = []
    for name, options in variants():
        path = os.path.join(args.out, name + ".parquet")
        pq.write_table(table(args.rows, seed=7), path, data_page_size=64 << 10, **options)
        files.append((name, path))
    # A dictionary that outgrows its limit: the chunk switches to PLAIN pages halfway.
    fallback = os.path.join(args.out, "dictionary-fallback.parquet")
    pq.write_table(table(args.rows, seed=8), fallback, data_page_size=8 << 10, dictionary_pagesize_limit=4096,
                   compression="snappy")
    files.append(("dictionary fallback", fallback))
    many = os.path.join(args.out, "row-groups-150.parquet")
    pq.write_table(table(15000, seed=9, long_text=True), many, row_group_size=100, compression="zstd")
    files.append(("150 row groups, zstd", many))
    print(f"pyarrow {pa.__version__}; {args.rows} rows per variant")
    for name, path in files:
        expected = expected_records(path)
        got, error = pipe_records(args.pipe, path)
        if got is None:
            print(f"  {name:24} FAILED: {error.strip()}")
            ok = False
            continue
        same = sum(1 for a, b in zip(expected, got) if a == b)
        status = "identical" if same == len(expected) == len(got) else "DIFFERENT"
        groups = pq.ParquetFile(path).metadata.num_row_groups
        print(f"  {name:24} {same:>6} of {len(expected):>6} records equal ({groups} row groups): {status}")
        if status != "identical":
            ok = False
            for a, b in zip(expected, got):
                if a != b:
                    print(f"    first difference: pyarrow {json.dumps(a)[:200]}\n                      pipe {json.dumps(b)[:200]}")
                    break
    print("result:", "identical" if ok else "DIFFERENT")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
