#!/usr/bin/env python3
"""datatrove's verdicts on documents, for the quality agreement check.

  dt_verdicts.py SHARDS_GLOB OUT.jsonl [--limit N]

writes one JSON line per document with each filter's verdict (the drop reason, or null when
kept). Each filter sees the original document on its own (not chained), with datatrove's
defaults:
  gopher  = GopherRepetitionFilter then GopherQualityFilter (the order of datatrove's recipes)
  c4      = C4QualityFilter (and the SHA-1 of the cleaned text it keeps, "c4_text_sha1")
  fineweb = FineWebQualityFilter
Run with the peer venv's python (datatrove 0.10.1).
"""

import argparse
import glob
import hashlib
import io
import json
import sys

import zstandard
from datatrove.data import Document
from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                        GopherRepetitionFilter)
from datatrove.pipeline.filters.base_filter import get_filter_result

_FILTERS = {}


def read_docs(pattern):
    for path in sorted(glob.glob(pattern)):
        with open(path, "rb") as f:
            reader = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(f), encoding="utf-8")
            for line in reader:
                if line.strip():
                    yield json.loads(line)


def verdict(filt, doc):
    try:
        kept, reason = get_filter_result(filt.filter(doc))
    except Exception as error:  # datatrove raises on some inputs (division by zero)
        return f"error:{type(error).__name__}"
    return None if kept else (reason or "dropped")


def datatrove_row(record):
    """The verdicts of the three filters on one record ({"id", "text", ...})."""
    if not _FILTERS:
        _FILTERS.update(repetition=GopherRepetitionFilter(), quality=GopherQualityFilter(), c4=C4QualityFilter(),
                        fineweb=FineWebQualityFilter())
    text, doc_id = record["text"], str(record["id"])
    row = {"id": doc_id}
    row["gopher"] = verdict(_FILTERS["repetition"], Document(text=text, id=doc_id))
    if row["gopher"] is None:
        row["gopher"] = verdict(_FILTERS["quality"], Document(text=text, id=doc_id))
    doc = Document(text=text, id=doc_id)
    row["c4"] = verdict(_FILTERS["c4"], doc)
    if row["c4"] is None:
        row["c4_text_sha1"] = hashlib.sha1(doc.text.encode("utf-8")).hexdigest()
    row["fineweb"] = verdict(_FILTERS["fineweb"], Document(text=text, id=doc_id))
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("shards")
    ap.add_argument("out")
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    with open(args.out, "w") as out:
        for n, record in enumerate(read_docs(args.shards)):
            if args.limit and n >= args.limit:
                break
            out.write(json.dumps(datatrove_row(record)) + "\n")
            if n % 1000 == 0:
                print(n, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
