#!/usr/bin/env python3
"""Checks `pipe tokenize` against the references, record by record.

For each GGUF model given (default: the local models the tests serve), this script
  1. reads the tokenizer the GGUF file carries (its own small GGUF reader, below),
  2. writes it as a Hugging Face tokenizer.json, with the normalizer and pre-tokenizer the
     model family's published tokenizer.json uses (Qwen2: NFC and the Qwen2 split;
     SmolLM2: digits one by one, then GPT-2's byte-level split),
  3. encodes every record of the shards with the Hugging Face `tokenizers` package
     (add_special_tokens=False) and, when a llama.cpp server for the model is up, with its
     /tokenize endpoint,
  4. runs `pipe tokenize --records` with the GGUF file and with the tokenizer.json, and
  5. prints, per source, how many records have identical ids and the first differences.
Exit status 1 when pipe differs from Hugging Face `tokenizers` on any record.

Lone surrogates in the JSON text become U+FFFD, as pipe's JSON reader makes them, so both
sides see the same text. The edge-case shard (scripts, emoji, code, long words, NFD text)
is written to OUT/edge-cases.jsonl.
"""
import argparse, json, os, re, struct, subprocess, sys, urllib.request

import zstandard
from tokenizers import Tokenizer

GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
         r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3 = QWEN2.replace(r"|\p{N}|", r"|\p{N}{1,3}|")


def read_gguf_tokenizer(path):
    """The tokenizer.ggml.* metadata of a GGUF file (versions 2 and 3)."""
    sizes = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
    with open(path, "rb") as f:
        def read(fmt):
            n = struct.calcsize("<" + fmt)
            return struct.unpack("<" + fmt, f.read(n))[0]

        def string():
            return f.read(read("Q")).decode("utf-8", "surrogateescape")

        def value(kind):
            if kind == 8:
                return string()
            if kind == 9:
                inner, count = read("I"), read("Q")
                return [value(inner) for _ in range(count)]
            return read(sizes[kind])

        if f.read(4) != b"GGUF":
            raise SystemExit(f"{path}: not a GGUF file")
        version = read("I")
        if version not in (2, 3):
            raise SystemExit(f"{path}: GGUF version {version}")
        read("Q")
        meta = {}
        for _ in range(read("Q")):
            key = string()
            kind = read("I")
            v = value(kind)
            if key.startswith("tokenizer."):
                meta[key] = v
        return meta


def tokenizer_json(meta):
    """A Hugging Face tokenizer.json for the tokenizer in `meta`."""
    if meta.get("tokenizer.ggml.model") != "gpt2":
        raise SystemExit("only byte-level BPE (tokenizer.ggml.model gpt2) is checked")
    pre = meta.get("tokenizer.ggml.pre", "gpt-2")
    tokens = meta["tokenizer.ggml.tokens"]
    types = meta.get("tokenizer.ggml.token_type", [1] * len(tokens))
    vocab, added = {}, []
    for i, (text, kind) in enumerate(zip(tokens, types)):
        # Added tokens are in the model's vocabulary too: `tokenizers` keeps an added token's id
        # only when the vocabulary has its text (else it numbers it after the vocabulary).
        if kind in (3, 4):
            added.append({"id": i, "content": text, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": kind == 4, "special": kind == 3})
        if text not in vocab:
            vocab[text] = i
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    normalizer = None
    ignore_merges = False
    if pre == "smollm":
        pre_tokenizer = {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}
    elif pre == "gpt-2":
        pre_tokenizer = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    elif pre in ("qwen2", "llama-bpe", "llama3"):
        pattern = QWEN2 if pre == "qwen2" else LLAMA3
        pre_tokenizer = {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False}, byte_level]}
        normalizer = {"type": "NFC"} if pre == "qwen2" else None
        ignore_merges = pre != "qwen2"
    else:
        raise SystemExit(f"pre-tokenizer {pre!r} is not one this check knows")
    merges = [m.split(" ", 1) for m in meta["tokenizer.ggml.merges"]]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": normalizer, "pre_tokenizer": pre_tokenizer, "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": ignore_merges, "vocab": vocab, "merges": merges},
    }


SURROGATE = re.compile("[\ud800-\udfff]")


def read_records(paths):
    records = []
    for path in paths:
        raw = open(path, "rb").read()
        if path.endswith(".zst"):
            raw = zstandard.ZstdDecompressor().stream_reader(raw).read()
        for number, line in enumerate(raw.split(b"\n"), 1):
            if not line.strip():
                continue
            record = json.loads(line)
            text = record.get("text")
            text = SURROGATE.sub("\ufffd", text) if isinstance(text, str) else ""
            records.append((record.get("id") or f"{path}/{number}", text))
    return records


def edge_cases(out):
    texts = [
        "Hello world, it's 2024! They'LL say 'RE-do' and I'M sure ſ'ſ 'Ve.",
        "  leading spaces\tand\ttabs\r\n\r\n\n   trailing   ",
        "中文段落：使用 `pip install -U tokenizers` 命令安装，路径 /usr/local/bin。日本語のテキストも。한국어 문장입니다.",
        "ภาษาไทยไม่มีช่องว่างระหว่างคำ และมีวรรณยุกต์ ๑๒๓",
        "العربية: مرحبا بالعالم ١٢٣٤٥ والأرقام 12345.67",
        "emoji 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ ZWJ\u200dtest",
        "def f(x):\n    return x**2  # comment\n\nfor i in range(10):\n\tprint(f\"{i:>4}\")\n",
        "x" * 5000 + " " + "ab" * 3000 + " " + "ü" * 700,
        "lone surrogate \ud800 here and \udfff there",
        "cafe\u0301 nai\u0308ve A\u030a (NFD) and café naïve Å (NFC)",
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|><|endoftext|>",
        "Numbers 1234567890, ½ ¾ Ⅻ ², 3.14159 and 1,000,000",
        "\u00a0nbsp\u2003em\u3000ideographic\u2028line\u2029para\u0085nel",
        "'s's't're've'm'll'd ' s",
        "MixedCASE_identifiers and snake_case and kebab-case and camelCase123",
        "\n\n\n\n",
        " ",
        "",
        "!!!???... ---- ==== ####\n\n",
        "Ελληνικά κείμενα και Кириллица тоже, עברית גם",
        "a\u0300\u0301\u0302\u0303 combining marks stack",
    ]
    path = os.path.join(out, "edge-cases.jsonl")
    with open(path, "w", encoding="utf-8", errors="surrogatepass") as f:
        for i, text in enumerate(texts):
            f.write(json.dumps({"id": f"edge-{i:02d}", "text": text}, ensure_ascii=True) + "\n")
    return path


def pipe_ids(pipe, tokenizer, shards):
    result = subprocess.run([pipe, "tokenize", "--tokenizer", tokenizer, "--records", *shards],
                            capture_output=True, check=True)
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return [row["tokens"] for row in rows]


def server_ids(url, texts):
    ids = []
    for text in texts:
        body = json.dumps({"content": text, "add_special": False, "parse_special": True}).encode()
        request = urllib.request.Request(url.rstrip("/") + "/tokenize", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            ids.append(json.load(response)["tokens"])
    return ids


def compare(name, expected, got, records, show=3):
    same = sum(1 for a, b in zip(expected, got) if a == b)
    line = f"  {name:44} {same:>6} of {len(expected):>6} records identical"
    if len(expected) != len(got):
        line += f" (count differs: {len(got)} against {len(expected)})"
    print(line)
    shown = 0
    for (rid, text), a, b in zip(records, expected, got):
        if a != b and shown < show:
            k = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            print(f"    {rid}: first difference at token {k}: {a[k:k + 6]} against {b[k:k + 6]}"
                  f" (text {json.dumps(text[:80])})")
            shown += 1
    return same == len(expected) and len(expected) == len(got)


def main():
    models_dir = os.path.expanduser(os.environ.get("PIPE_LLM_CACHE", "~/.cache/pipe-llm")) + "/models"
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pipe", default=".build/release/pipe")
    p.add_argument("--model", action="append", default=[],
                   help="NAME=GGUF[@URL of its llama.cpp server] (default: smollm2 and qwen-0.5b from the cache, "
                        "servers on 8765 and 8766 when up)")
    p.add_argument("--out", default=".build/tokenizer-check")
    p.add_argument("shards", nargs="+")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    models = args.model or [f"smollm2={models_dir}/smollm2.gguf@http://127.0.0.1:8765",
                            f"qwen2={models_dir}/qwen-0.5b.gguf@http://127.0.0.1:8766"]
    shards = [edge_cases(args.out)] + args.shards
    records = read_records(shards)
    texts = [text for _, text in records]
    print(f"{len(records)} records from {len(shards)} files ({sum(len(t.encode('utf-8', 'surrogatepass')) for t in texts) / 1e6:.1f} MB)")
    ok = True
    for spec in models:
        name, _, rest = spec.partition("=")
        gguf, _, url = rest.partition("@")
        meta = read_gguf_tokenizer(gguf)
        json_path = os.path.join(args.out, f"{name}.tokenizer.json")
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(tokenizer_json(meta), f, ensure_ascii=False)
        reference = Tokenizer.from_file(json_path)
        expected = [e.ids for e in reference.encode_batch(texts, add_special_tokens=False)]
        print(f"{name} ({meta.get('tokenizer.ggml.pre')}, {len(meta['tokenizer.ggml.tokens'])} tokens):")
        ok &= compare("pipe (GGUF) against HF tokenizers", expected, pipe_ids(args.pipe, gguf, shards), records)
        ok &= compare("pipe (tokenizer.json) against HF tokenizers", expected,
                      pipe_ids(args.pipe, json_path, shards), records)
        if url:
            try:
                served = server_ids(url, texts)
            except OSError as error:
                print(f"  llama.cpp /tokenize at {url}: not reachable ({error}); skipped")
            else:
                compare("llama.cpp /tokenize against HF tokenizers", expected, served, records, show=8)
    print("result:", "identical" if ok else "DIFFERENT")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
