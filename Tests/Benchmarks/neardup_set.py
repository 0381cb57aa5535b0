#!/usr/bin/env python3
"""Builds a near-duplicate test set from real document revisions found on this machine.

  python3 Tests/Benchmarks/neardup_set.py [--out .build/neardup] [--seed 7]

Sources (all real, none edited by this script):
  - the Python standard library in the versions pyenv installed (2.7 and 3.6 to 3.13): the same
    file path across versions is one origin, so an origin has up to 9 revisions with graded
    similarity (a sample of a quarter of the paths, files of 200 B to 60 kB, tests included);
  - Debian's installation guide for amd64 and for arm64 (20230508+deb12u1, 19 languages, fetched
    with `apt-get download`): the same page of the same language is one origin with 2 versions;
  - Perl's library (/usr/share/perl), as documents of other origins.
Each document is one file (HTML pages turned into text). Documents are shuffled with the seed and
written to OUT/shards/00000.jsonl.zst with metadata {source, origin, version}.

Truth (OUT/pairs.jsonl.zst): the exact 5-gram Jaccard of every same-origin pair, and of every
other pair that a MinHash LSH search (datasketch, 256 permutations, threshold 0.5) makes a
candidate; words as pipe's dedup.minhash cuts them (lowercase, numbers to 0, punctuation and
symbols to spaces, diacritics removed, each CJK/Thai character a word; a text with fewer than 5
words is one shingle). A pair with Jaccard >= 0.8 missed by that search has a chance below 1e-6.
OUT/info.json has the counts and the Jaccard histogram of the same-origin pairs.
"""

import argparse
import glob
import hashlib
import html.parser
import io
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import unicodedata

NGRAMS = 5
_NUMBER = re.compile(r"\d+([.,\u060c\u066b\u2396\u2397\u2398]\d+)?")
_SOLO = re.compile(
    "([\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\u0e00-\u0e7f\u0e80-\u0eff\u1780-\u17ff\u1000-\u109f])")


def words(text):
    """The words pipe's dedup.minhash cuts `text` into (its default normalization)."""
    text = _NUMBER.sub("0", text.lower())
    text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    out = []
    for c in text:
        cat = unicodedata.category(c)
        out.append(" " if cat[0] in "PSCZ" else c)
    return _SOLO.sub(r" \1 ", "".join(out)).split()


def shingles(text, n=NGRAMS):
    w = words(text)
    if not w:
        return set()
    if len(w) < n:
        return {" ".join(w)}
    return {" ".join(w[i:i + n]) for i in range(len(w) - n + 1)}


def jaccard(a, b):
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


class _Text(html.parser.HTMLParser):
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "pre", "dt", "dd", "table", "title"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def html_text(raw):
    parser = _Text()
    parser.feed(raw)
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    return "\n".join(line for line in lines if line).strip()


def python_docs():
    root = os.path.expanduser("~/.pyenv/versions")
    docs = []
    for version_dir in sorted(glob.glob(os.path.join(root, "*"))):
        version = os.path.basename(version_dir)
        libs = glob.glob(os.path.join(version_dir, "lib", "python*"))
        if not libs or not re.fullmatch(r"\d+\.\d+\.\d+", version):
            continue
        lib = libs[0]
        for path in sorted(glob.glob(os.path.join(lib, "**", "*.py"), recursive=True)):
            rel = os.path.relpath(path, lib)
            if rel.startswith("site-packages") or "/site-packages/" in rel:
                continue
            # A quarter of the paths, chosen by the path alone so every version has the same ones.
            if hashlib.sha256(rel.encode()).digest()[0] % 4 != 0:
                continue
            size = os.path.getsize(path)
            if not 200 <= size <= 60_000:
                continue
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            docs.append({"source": "python-stdlib", "origin": "py:" + rel, "version": version, "text": text})
    return docs


def installation_guide_docs(work):
    debs = []
    for arch in ("amd64", "arm64"):
        subprocess.run(["apt-get", "download", "-q", f"installation-guide-{arch}"], cwd=work, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deb = glob.glob(os.path.join(work, f"installation-guide-{arch}_*.deb"))[0]
        debs.append((arch, os.path.basename(deb)))
        subprocess.run(["dpkg-deb", "-x", deb, os.path.join(work, arch)], check=True)
    docs = []
    for arch, deb in debs:
        base = os.path.join(work, arch, "usr/share/doc", f"installation-guide-{arch}")
        for path in sorted(glob.glob(os.path.join(base, "*", "*.html"))):
            rel = os.path.relpath(path, base)
            with open(path, "rb") as f:
                text = html_text(f.read().decode("utf-8", "replace"))
            if len(text) >= 200:
                docs.append({"source": "installation-guide", "origin": "ig:" + rel, "version": arch, "text": text})
    return docs, [d for _, d in debs]


def perl_docs(limit=800):
    paths = sorted(glob.glob("/usr/share/perl/*/**/*.p[ml]", recursive=True))
    docs = []
    for path in paths:
        size = os.path.getsize(path)
        if 200 <= size <= 60_000:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            docs.append({"source": "perl", "origin": "pl:" + path, "version": "-", "text": text})
    docs.sort(key=lambda d: hashlib.sha256(d["origin"].encode()).hexdigest())
    return docs[:limit]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=".build/neardup")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    from datasketch import MinHash, MinHashLSH
    import zstandard

    os.makedirs(os.path.join(args.out, "shards"), exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        guide, debs = installation_guide_docs(work)
    docs = python_docs() + guide + perl_docs()
    random.Random(args.seed).shuffle(docs)
    for number, doc in enumerate(docs):
        doc["id"] = f"nd-{number:05d}"
    print(f"{len(docs)} documents; shingling", file=sys.stderr)
    sets = [shingles(d["text"]) for d in docs]

    pairs = {}
    by_origin = {}
    for index, doc in enumerate(docs):
        by_origin.setdefault(doc["origin"], []).append(index)
    for members in by_origin.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                a, b = members[x], members[y]
                pairs[(a, b)] = (jaccard(sets[a], sets[b]), True)
    print(f"{len(pairs)} same-origin pairs; searching other pairs", file=sys.stderr)
    lsh = MinHashLSH(threshold=0.5, num_perm=256)
    sketches = []
    for index, s in enumerate(sets):
        m = MinHash(num_perm=256, seed=11)
        m.update_batch([x.encode("utf-8", "surrogatepass") for x in s])
        sketches.append(m)
        if s:
            for other in lsh.query(m):
                key = (other, index)
                if key not in pairs:
                    j = jaccard(sets[other], s)
                    if j >= 0.5:
                        pairs[key] = (j, False)
            lsh.insert(index, m)

    sink = io.BytesIO()
    hasher = hashlib.sha256()
    for doc in docs:
        line = json.dumps({"id": doc["id"], "text": doc["text"],
                           "metadata": {"source": doc["source"], "origin": doc["origin"], "version": doc["version"]}},
                          ensure_ascii=False).encode() + b"\n"
        hasher.update(line)
        sink.write(line)
    with open(os.path.join(args.out, "shards", "00000.jsonl.zst"), "wb") as f:
        f.write(zstandard.ZstdCompressor(level=3).compress(sink.getvalue()))
    lines = []
    for (a, b), (j, same) in sorted(pairs.items()):
        lines.append(json.dumps({"a": docs[a]["id"], "b": docs[b]["id"], "jaccard": round(j, 6), "sameOrigin": same}))
    with open(os.path.join(args.out, "pairs.jsonl.zst"), "wb") as f:
        f.write(zstandard.ZstdCompressor(level=3).compress(("\n".join(lines) + "\n").encode()))
    same = [j for (j, s) in pairs.values() if s]
    bins = [0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0, 1.01]
    histogram = {f"[{bins[i]}, {bins[i + 1]})": sum(1 for j in same if bins[i] <= j < bins[i + 1])
                 for i in range(len(bins) - 1)}
    info = {
        "documents": len(docs), "sources": {s: sum(1 for d in docs if d["source"] == s)
                                            for s in sorted({d["source"] for d in docs})},
        "origins": len(by_origin), "sameOriginPairs": len(same),
        "otherPairsAtLeast0.5": sum(1 for (j, s) in pairs.values() if not s),
        "sameOriginJaccard": histogram, "debs": debs, "seed": args.seed, "jsonlSha256": hasher.hexdigest(),
    }
    with open(os.path.join(args.out, "info.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
