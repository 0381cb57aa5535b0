#!/usr/bin/env python3
"""Builds the `lang.id@1` model (langid.bin) from real text found on this machine.

Run from the repository root (this is what `make langid-model` does):

    python3 Sources/PipeStages/Language/Model/make_langid_model.py

Python 3.11 standard library only, plus `man` and `col` for rendering translated man pages.
It writes:

  Sources/PipeStages/Language/Model/langid.bin     the model (format below)
  Tests/PipeStagesTests/Language/golden.jsonl      held-out texts with the Python prediction,
                                                   which the Swift tests must reproduce

and prints a per-language accuracy table on held-out documents of 200 to 2,000 characters.

Sources (all offline; see README.md beside this file):
  * gettext catalogues, /usr/share/locale/<locale>/LC_MESSAGES/*.mo: msgstr for the language,
    msgid for English. The iso_* catalogues (lists of names, not text) are skipped.
  * translated man pages, /usr/share/man/<locale>/man*/, and a sample of the English ones,
    rendered with `man -l` and `col -bx`.
Train, dev and test are split by *source group*: the catalogue domain (`coreutils`) or the man
page name (`apropos`), the same for every language, so one catalogue or page never appears on
two sides. Test strings that also occur verbatim in the training text are removed.

Model: multinomial naive Bayes over hashed character n-grams (n = 1..4) of lower-cased words
padded with a space on each side. See `classify` for the exact scoring; the Swift
`LanguageModel` mirrors it operation by operation.

Determinism: no clock, no global random state, sorted traversal everywhere; the same machine
gives the same bytes. Rendered man pages are cached in $PIPE_LANGID_CACHE (default
/tmp/pipe-langid-cache), keyed by the page's bytes, which only saves time.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import gzip
import hashlib
import json
import math
import os
import random
import re
import struct
import subprocess
import sys
import time
import zlib

# MARK: - Languages

# Script ids, shared with LanguageModel.swift (`Script`). Han and Kana share one id, so zh and
# ja compete with each other and with nobody else.
SCRIPTS = {
    0: "Other", 1: "Latin", 2: "Greek", 3: "Cyrillic", 4: "Armenian", 5: "Hebrew", 6: "Arabic",
    7: "Devanagari", 8: "Bengali", 9: "Gurmukhi", 10: "Gujarati", 11: "Oriya", 12: "Tamil",
    13: "Telugu", 14: "Kannada", 15: "Malayalam", 16: "Sinhala", 17: "Thai", 18: "Lao",
    19: "Tibetan", 20: "Georgian", 21: "Hangul", 22: "Ethiopic", 23: "Khmer", 24: "Han/Kana",
}

# (code, name, script id, locale directories)
LANGUAGES = [
    ("en", "English", 1, []),  # msgids and English man pages, see collect_english
    ("fr", "French", 1, ["fr"]),
    ("de", "German", 1, ["de"]),
    ("es", "Spanish", 1, ["es"]),
    ("it", "Italian", 1, ["it"]),
    ("pt", "Portuguese", 1, ["pt", "pt_BR", "pt_PT"]),
    ("nl", "Dutch", 1, ["nl"]),
    ("sv", "Swedish", 1, ["sv"]),
    ("da", "Danish", 1, ["da"]),
    ("nb", "Norwegian Bokmål", 1, ["nb", "nb_NO", "no"]),
    ("fi", "Finnish", 1, ["fi"]),
    ("et", "Estonian", 1, ["et"]),
    ("pl", "Polish", 1, ["pl"]),
    ("cs", "Czech", 1, ["cs"]),
    ("sk", "Slovak", 1, ["sk"]),
    ("sl", "Slovenian", 1, ["sl"]),
    ("hr", "Croatian", 1, ["hr"]),
    ("hu", "Hungarian", 1, ["hu"]),
    ("ro", "Romanian", 1, ["ro"]),
    ("tr", "Turkish", 1, ["tr"]),
    ("az", "Azerbaijani", 1, ["az"]),
    ("vi", "Vietnamese", 1, ["vi"]),
    ("id", "Indonesian", 1, ["id"]),
    ("ca", "Catalan", 1, ["ca"]),
    ("gl", "Galician", 1, ["gl"]),
    ("eu", "Basque", 1, ["eu"]),
    ("lt", "Lithuanian", 1, ["lt"]),
    ("lv", "Latvian", 1, ["lv"]),
    ("eo", "Esperanto", 1, ["eo"]),
    ("ga", "Irish", 1, ["ga"]),
    ("cy", "Welsh", 1, ["cy"]),
    ("sq", "Albanian", 1, ["sq"]),
    ("af", "Afrikaans", 1, ["af"]),
    ("is", "Icelandic", 1, ["is"]),
    ("ru", "Russian", 3, ["ru"]),
    ("uk", "Ukrainian", 3, ["uk"]),
    ("be", "Belarusian", 3, ["be"]),
    ("bg", "Bulgarian", 3, ["bg"]),
    ("mk", "Macedonian", 3, ["mk"]),
    ("sr", "Serbian (Cyrillic)", 3, ["sr"]),
    ("kk", "Kazakh", 3, ["kk"]),
    ("el", "Greek", 2, ["el"]),
    ("he", "Hebrew", 5, ["he"]),
    ("ar", "Arabic", 6, ["ar"]),
    ("fa", "Persian", 6, ["fa"]),
    ("hi", "Hindi", 7, ["hi"]),
    ("mr", "Marathi", 7, ["mr"]),
    ("ne", "Nepali", 7, ["ne"]),
    ("bn", "Bengali", 8, ["bn", "bn_IN", "bn_BD"]),
    ("pa", "Punjabi", 9, ["pa"]),
    ("gu", "Gujarati", 10, ["gu"]),
    ("or", "Odia", 11, ["or"]),
    ("ta", "Tamil", 12, ["ta"]),
    ("te", "Telugu", 13, ["te"]),
    ("kn", "Kannada", 14, ["kn"]),
    ("ml", "Malayalam", 15, ["ml"]),
    ("th", "Thai", 17, ["th"]),
    ("ka", "Georgian", 20, ["ka"]),
    ("ko", "Korean", 21, ["ko"]),
    ("ja", "Japanese", 24, ["ja"]),
    ("zh", "Chinese", 24, ["zh_CN", "zh_TW", "zh_HK", "zh_Hans", "zh_Hant"]),
]

# MARK: - Parameters

MAX_N = 4                 # n-gram lengths 1..MAX_N
BUCKET_BITS = 18          # hashed feature space: 2^18 buckets
ALPHA = 0.5               # additive smoothing of bucket counts
TOP_K = 14000             # buckets kept per language (by count)
QUANT_SCALE = 16.0        # stored weight units per nat
MIN_NGRAMS = 20.0         # n in the score's normalizer is at least this (short texts are unsure)
MAX_CHARS = 10_000        # the stage's default: classify the leading 10,000 scalars
TRAIN_CAP = 3_000_000     # training characters per language at most
TEST_CAP = 300            # test documents per language at most
DEV_CAP = 100             # calibration documents per language at most
MIN_TEST_DOCS = 10        # a language needs this many test documents to be in the model
MIN_TRAIN_CHARS = 30_000  # and this much training text
DOC_MIN, DOC_MAX = 200, 2000
GOLDEN_PER_LANGUAGE = 4
GOLDEN_MAX_CHARS = 600
SEED = 20240611

MASK64 = (1 << 64) - 1
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MIX = 0xFF51AFD7ED558CCD

# MARK: - Characters (mirrored by LanguageModel+Text.swift)

# Scalars that are never part of a word, beyond ASCII (where only a-z and A-Z are letters).
NON_LETTER_RANGES = [
    (0x0080, 0x00BF), (0x00D7, 0x00D7), (0x00F7, 0x00F7),
    (0x037E, 0x037E), (0x0387, 0x0387),
    (0x055A, 0x055F), (0x0589, 0x058A),
    (0x05BE, 0x05BE), (0x05C0, 0x05C0), (0x05C3, 0x05C3), (0x05F3, 0x05F4),
    (0x0600, 0x060F), (0x061B, 0x061F), (0x0660, 0x066D), (0x06D4, 0x06D4), (0x06F0, 0x06F9),
    (0x0964, 0x096F), (0x09E6, 0x09EF), (0x0A66, 0x0A6F), (0x0AE6, 0x0AEF), (0x0B66, 0x0B6F),
    (0x0BE6, 0x0BEF), (0x0C66, 0x0C6F), (0x0CE6, 0x0CEF), (0x0D66, 0x0D6F),
    (0x0E3F, 0x0E3F), (0x0E4F, 0x0E4F), (0x0E50, 0x0E5B),
    (0x10FB, 0x10FB),
    (0x2000, 0x2BFF), (0x2E00, 0x2E7F),
    (0x3000, 0x3004), (0x3008, 0x3020), (0x3030, 0x3030), (0x303D, 0x303F),
    (0x30FB, 0x30FB),
    (0xD800, 0xF8FF),
    (0xFD3E, 0xFD3F), (0xFE10, 0xFE1F), (0xFE30, 0xFE6F), (0xFEFF, 0xFEFF),
    (0xFF00, 0xFF20), (0xFF3B, 0xFF40), (0xFF5B, 0xFF65),
    (0xFFF0, 0xFFFF),
    (0x1D000, 0x1FFFF),
    (0xE0000, 0x10FFFF),
]

SCRIPT_RANGES = [  # (first, last, script id) for letters; anything else is 0
    (0x0041, 0x005A, 1), (0x0061, 0x007A, 1), (0x00C0, 0x024F, 1), (0x0250, 0x02AF, 1),
    (0x1E00, 0x1EFF, 1), (0xFF21, 0xFF3A, 1), (0xFF41, 0xFF5A, 1),
    (0x0370, 0x03FF, 2), (0x1F00, 0x1FFF, 2),
    (0x0400, 0x052F, 3),
    (0x0530, 0x058F, 4),
    (0x0590, 0x05FF, 5), (0xFB1D, 0xFB4F, 5),
    (0x0600, 0x06FF, 6), (0x0750, 0x077F, 6), (0x08A0, 0x08FF, 6), (0xFB50, 0xFDFF, 6),
    (0xFE70, 0xFEFF, 6),
    (0x0900, 0x097F, 7), (0x0980, 0x09FF, 8), (0x0A00, 0x0A7F, 9), (0x0A80, 0x0AFF, 10),
    (0x0B00, 0x0B7F, 11), (0x0B80, 0x0BFF, 12), (0x0C00, 0x0C7F, 13), (0x0C80, 0x0CFF, 14),
    (0x0D00, 0x0D7F, 15), (0x0D80, 0x0DFF, 16), (0x0E00, 0x0E7F, 17), (0x0E80, 0x0EFF, 18),
    (0x0F00, 0x0FFF, 19),
    (0x10A0, 0x10FF, 20), (0x1C90, 0x1CBF, 20), (0x2D00, 0x2D2F, 20),
    (0x1100, 0x11FF, 21), (0x3130, 0x318F, 21), (0xA960, 0xA97F, 21), (0xAC00, 0xD7FF, 21),
    (0xFFA0, 0xFFDC, 21),
    (0x1200, 0x139F, 22), (0x2D80, 0x2DDF, 22),
    (0x1780, 0x17FF, 23), (0x19E0, 0x19FF, 23),
    (0x3005, 0x3007, 24), (0x3021, 0x302F, 24), (0x3031, 0x303C, 24), (0x3040, 0x30FF, 24),
    (0x31F0, 0x31FF, 24), (0x3400, 0x4DBF, 24), (0x4E00, 0x9FFF, 24), (0xF900, 0xFAFF, 24),
    (0xFF66, 0xFF9F, 24), (0x20000, 0x3FFFF, 24),
]


def fold(cp: int) -> int:
    """Simple lower-casing for the scripts the model knows; anything else is unchanged."""
    if 0x41 <= cp <= 0x5A:
        return cp + 0x20
    if cp < 0xC0:
        return cp
    if cp <= 0xDE:
        return cp + 0x20 if cp != 0xD7 else cp
    if 0x100 <= cp <= 0x17F:
        if cp == 0x130:
            return 0x69
        if cp == 0x178:
            return 0xFF
        if 0x139 <= cp <= 0x148 or 0x179 <= cp <= 0x17E:
            return cp + 1 if cp % 2 == 1 else cp
        if cp == 0x131 or cp == 0x138 or cp == 0x149 or cp == 0x17F:
            return cp
        return cp + 1 if cp % 2 == 0 else cp
    if 0x218 <= cp <= 0x21B:
        return cp + 1 if cp % 2 == 0 else cp
    if 0x386 <= cp <= 0x3AB:
        if cp == 0x386:
            return 0x3AC
        if 0x388 <= cp <= 0x38A:
            return cp + 0x25
        if cp == 0x38C:
            return 0x3CC
        if cp in (0x38E, 0x38F):
            return cp + 0x3F
        if 0x391 <= cp <= 0x3AB and cp != 0x3A2:
            return cp + 0x20
        return cp
    if 0x400 <= cp <= 0x40F:
        return cp + 0x50
    if 0x410 <= cp <= 0x42F:
        return cp + 0x20
    if 0x460 <= cp <= 0x481 or 0x48A <= cp <= 0x4BF or 0x4D0 <= cp <= 0x52F:
        return cp + 1 if cp % 2 == 0 else cp
    if 0x4C1 <= cp <= 0x4CE:
        return cp + 1 if cp % 2 == 1 else cp
    if 0x531 <= cp <= 0x556:
        return cp + 0x30
    if 0x1E00 <= cp <= 0x1E95 or 0x1EA0 <= cp <= 0x1EFF:
        return cp + 1 if cp % 2 == 0 else cp
    if cp == 0x1E9E:
        return 0xDF
    if 0xFF21 <= cp <= 0xFF3A:
        return cp + 0x20
    return cp


def is_letter(cp: int) -> bool:
    if cp < 0x80:
        return 0x41 <= cp <= 0x5A or 0x61 <= cp <= 0x7A
    for first, last in NON_LETTER_RANGES:
        if first <= cp <= last:
            return False
    return True


def script_of(cp: int) -> int:
    for first, last, script in SCRIPT_RANGES:
        if first <= cp <= last:
            return script
    return 0


def _build_regexes():
    def esc(cp: int) -> str:
        return "\\U%08x" % cp
    parts = ["\\x00-\\x40", "\\x5b-\\x60", "\\x7b-\\x7f"]
    parts += [esc(a) if a == b else esc(a) + "-" + esc(b) for a, b in NON_LETTER_RANGES]
    return re.compile("[^" + "".join(parts) + "]+")


WORD_RE = _build_regexes()
FOLD_TABLE = {cp: fold(cp) for cp in range(0x30000) if fold(cp) != cp}
_script_cache: dict[str, int] = {}


def words_of(text: str, max_chars: int = MAX_CHARS) -> list[str]:
    """Lower-cased runs of letters in the first `max_chars` scalars."""
    return WORD_RE.findall(text[:max_chars].translate(FOLD_TABLE))


def dominant_script(words: list[str]) -> int:
    """The script with the most letters (ties: the smaller id), or 0 when there are none."""
    counts = [0] * 32
    cache = _script_cache
    for word in words:
        for ch in word:
            s = cache.get(ch)
            if s is None:
                s = cache[ch] = script_of(ord(ch))
            counts[s] += 1
    best, best_count = 0, 0
    for s in range(1, 32):
        if counts[s] > best_count:
            best, best_count = s, counts[s]
    return best


def character_table() -> list[list[int]]:
    """[scalar, is letter, folded, script] around every range boundary, for the Swift tests."""
    points = set()
    for first, last in NON_LETTER_RANGES:
        points.update((first - 1, first, last, last + 1))
    for first, last, _ in SCRIPT_RANGES:
        points.update((first - 1, first, last, last + 1))
    points.update(FOLD_TABLE)
    points.update(FOLD_TABLE.values())
    points.update(range(0x80))
    return [[cp, int(is_letter(cp)), fold(cp), script_of(cp)]
            for cp in sorted(points) if 0 <= cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF]


def check_tables():
    """The regular expression and translation table used for speed agree with the functions."""
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        assert bool(WORD_RE.fullmatch(ch)) == is_letter(cp), hex(cp)
        assert ch.translate(FOLD_TABLE) == chr(fold(cp)), hex(cp)
        assert not is_letter(cp) or is_letter(fold(cp)), hex(cp)


# MARK: - Hashing (mirrored by LanguageModel+Text.swift)

def ngram_bucket(gram: str) -> int:
    """FNV-1a 64 over the scalar values of `gram` taken from the last to the first (so a
    reader can extend n-grams to the left), then a MurmurHash3-style finalizer."""
    h = FNV_OFFSET
    for ch in reversed(gram):
        h = ((h ^ ord(ch)) * FNV_PRIME) & MASK64
    h ^= h >> 33
    h = (h * MIX) & MASK64
    h ^= h >> 33
    return h & ((1 << BUCKET_BITS) - 1)


_bucket_cache: dict[str, int] = {}
_word_cache: dict[str, tuple[int, ...]] = {}


def word_buckets(word: str) -> tuple[int, ...]:
    """Buckets of every n-gram (1..MAX_N) of ' word ', except the lone-space unigrams."""
    got = _word_cache.get(word)
    if got is not None:
        return got
    padded = " " + word + " "
    out = []
    cache = _bucket_cache
    for end in range(len(padded)):
        for n in range(1, MAX_N + 1):
            start = end - n + 1
            if start < 0:
                break
            gram = padded[start:end + 1]
            if gram == " ":
                continue
            b = cache.get(gram)
            if b is None:
                b = cache[gram] = ngram_bucket(gram)
            out.append(b)
    got = tuple(out)
    if len(word) <= 24 and len(_word_cache) < 2_000_000:
        _word_cache[word] = got
    return got


def fnv1a64(data: bytes) -> int:
    h = FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * FNV_PRIME) & MASK64
    return h


# MARK: - Sources

def stable_hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def assign_splits(code: str, groups: dict[str, list[str]]) -> dict[str, str]:
    """train, dev or test for each source group of one language.

    Groups are taken in a fixed pseudo-random order (a hash of language and group); a group goes
    to test while test holds under 20% of the language's text and would stay under 30% with it,
    then to dev up to 10% (15%), and the rest to train. A group is never split."""
    sizes = {g: sum(map(len, segs)) for g, segs in groups.items()}
    total = sum(sizes.values())
    held = {"test": 0, "dev": 0}
    limits = {"test": (0.20, 0.30), "dev": (0.10, 0.15)}
    out = {}
    for group in sorted(groups, key=lambda g: (stable_hash("split:%s:%s" % (code, g)), g)):
        out[group] = "train"
        for side in ("test", "dev"):
            low, high = limits[side]
            if held[side] < low * total and held[side] + sizes[group] <= high * total:
                out[group] = side
                held[side] += sizes[group]
                break
    return out


def read_mo(path: str) -> list[tuple[str, str]]:
    """(msgid, msgstr) pairs of a .mo file, plural forms split; [] when unreadable."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 28:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    order = "<" if magic == 0x950412DE else ">" if magic == 0xDE120495 else None
    if order is None:
        return []
    _, count, orig_off, trans_off = struct.unpack(order + "4I", data[4:20])
    raw = []
    for i in range(count):
        olen, ooff = struct.unpack(order + "2I", data[orig_off + 8 * i:orig_off + 8 * i + 8])
        tlen, toff = struct.unpack(order + "2I", data[trans_off + 8 * i:trans_off + 8 * i + 8])
        raw.append((data[ooff:ooff + olen], data[toff:toff + tlen]))
    charset = "utf-8"
    for msgid, msgstr in raw:
        if msgid == b"":
            m = re.search(rb"charset=([A-Za-z0-9_\-]+)", msgstr)
            if m:
                charset = m.group(1).decode("ascii").lower()
    try:
        "".encode(charset)
    except LookupError:
        return []
    pairs = []
    for msgid, msgstr in raw:
        if msgid == b"":
            continue
        try:
            mid = msgid.decode(charset)
            mstr = msgstr.decode(charset)
        except UnicodeDecodeError:
            continue
        if "\x04" in mid:
            mid = mid.split("\x04", 1)[1]
        ids = mid.split("\x00")
        strs = mstr.split("\x00")
        for k, s in enumerate(strs):
            pairs.append((ids[min(k, len(ids) - 1)], s))
    return pairs


_CLEAN_RES = [
    (re.compile(r"%(\d+\$)?[-+ #0']*(\*|\d+)?(\.(\*|\d+))?(hh|h|ll|l|L|q|j|z|t|I64|I32)?"
                r"[diouxXeEfFgGaAcCsSpnm%]"), " "),
    (re.compile(r"%<\w+>|%\(\w+\)[a-z]|%[A-Za-z]\b"), " "),
    (re.compile(r"\{[^{}\n]{0,40}\}|\$\{?\w+\}?"), " "),
    (re.compile(r"<[^<>\n]{0,200}>"), " "),
    (re.compile(r"&[a-zA-Z]+;|&#\d+;"), " "),
    (re.compile(r"\b\w+://\S+|\S+@\S+\.\S+"), " "),
    (re.compile(r"(?<![\w/])[~.]?/[\w.\-/~*]+"), " "),
    (re.compile(r"(?<![\w])--?[A-Za-z][\w\-]*(=\S*)?"), " "),
    (re.compile(r"\(&?_?[A-Za-z]\)"), " "),
    (re.compile(r"(?<!\w)[_&](?=\w)"), ""),
    (re.compile(r"\b[A-Za-z0-9]+[_=][A-Za-z0-9_=]*\b|\S*\\\S*"), " "),
    (re.compile(r"_"), ""),
    (re.compile(r"\\[ntr]"), " "),
    # Old Chinese man pages put a space between every character; no CJK text needs one.
    (re.compile(r"(?<=[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff])\s+(?=[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff])"), ""),
    (re.compile(r"\s+"), " "),
]


def clean_message(text: str) -> str:
    for pattern, repl in _CLEAN_RES:
        text = pattern.sub(repl, text)
    return text.strip()


# Frequent English words that are rare as words in the other languages; a segment of another
# language with many of them is untranslated English (partly translated man pages keep English
# paragraphs), and is left out.
ENGLISH_MARKERS = frozenset(
    "the and that with this are from which your you will should when been have has must into "
    "there these than specified default option options file files value used using does".split())


def looks_english(text: str) -> bool:
    words = words_of(text)
    if len(words) < 4:
        return False
    hits = sum(1 for w in words if w in ENGLISH_MARKERS)
    return hits >= 0.15 * len(words)


def letter_count(text: str) -> int:
    return sum(len(w) for w in words_of(text))


# Catalogues that are lists of names (languages, countries, currencies, keyboard layouts)
# rather than sentences.
SKIPPED_CATALOGUES = ("iso_", "xkeyboard-config")


def collect_gettext(locale_root: str) -> dict[str, dict[str, list[str]]]:
    """{code: {group: [segments]}} from the catalogues; English comes from the msgids."""
    out: dict[str, dict[str, list[str]]] = collections.defaultdict(dict)
    english: dict[str, list[str]] = {}
    english_size: dict[str, int] = {}
    script_of_code = {code: script for code, _, script, _ in LANGUAGES}
    for code, _, script, dirs in LANGUAGES:
        for d in dirs:
            folder = os.path.join(locale_root, d, "LC_MESSAGES")
            if not os.path.isdir(folder):
                continue
            for name in sorted(os.listdir(folder)):
                if not name.endswith(".mo") or name.startswith(SKIPPED_CATALOGUES):
                    continue
                domain = name[:-3]
                pairs = read_mo(os.path.join(folder, name))
                segments = []
                for msgid, msgstr in pairs:
                    if not msgstr or msgstr == msgid:
                        continue
                    cleaned = clean_message(msgstr)
                    if letter_count(cleaned) < 2:
                        continue
                    if dominant_script(words_of(cleaned)) != script_of_code[code]:
                        continue
                    if code != "en" and looks_english(cleaned):
                        continue
                    segments.append(cleaned)
                if segments:
                    out[code].setdefault("mo:" + domain, []).extend(segments)
                ids = sorted({clean_message(m) for m, s in pairs if s and s != m})
                size = sum(len(m) for m in ids)
                if size > english_size.get(domain, -1):
                    english_size[domain] = size
                    english[domain] = ids
    for domain in sorted(english):
        segs = [s for s in english[domain] if letter_count(s) >= 2 and dominant_script(words_of(s)) == 1]
        if segs:
            out["en"]["mo:" + domain] = segs
    return out


def render_man(path: str, cache_dir: str) -> str:
    with open(path, "rb") as f:
        data = f.read()
    key = hashlib.sha256(data).hexdigest()
    cached = os.path.join(cache_dir, key + ".txt")
    if os.path.exists(cached):
        with open(cached, encoding="utf-8") as f:
            return f.read()
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
    try:
        man = subprocess.run(["nice", "-n", "10", "man", "--nh", "--nj", "-l", "-E", "UTF-8", path],
                             capture_output=True, env=env, timeout=60)
        col = subprocess.run(["col", "-bx"], input=man.stdout, capture_output=True, env=env, timeout=60)
        text = col.stdout.decode("utf-8", errors="replace")
    except (OSError, subprocess.SubprocessError):
        text = ""
    os.makedirs(cache_dir, exist_ok=True)
    tmp = cached + ".tmp%d" % os.getpid()
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, cached)
    return text


_CJK_END = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]$")
_CJK_START = re.compile(r"^[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]")


def man_paragraphs(text: str) -> list[str]:
    """Paragraphs of a rendered page, lines joined; headers, footers and headings dropped."""
    paragraphs = []
    lines = text.split("\n")
    if lines:
        lines = lines[1:]  # the NAME(1) ... NAME(1) header
    block: list[str] = []

    def flush():
        if block:
            joined = block[0]
            for line in block[1:]:
                sep = "" if _CJK_END.search(joined) and _CJK_START.search(line) else " "
                joined += sep + line
            paragraphs.append(clean_message(joined))
            block.clear()

    for line in lines:
        stripped = line.strip()
        if not stripped:
            flush()
            continue
        if not line.startswith(" "):  # a section heading or the footer
            flush()
            continue
        block.append(stripped)
    flush()
    return [p for p in paragraphs if letter_count(p) >= 10]


def man_page_group(path: str) -> str:
    base = os.path.basename(path)
    for ext in (".gz", ".bz2", ".xz"):
        if base.endswith(ext):
            base = base[: -len(ext)]
    return "man:" + base.rsplit(".", 1)[0]


def collect_man(man_root: str, cache_dir: str, english_pages: int) -> dict[str, dict[str, list[str]]]:
    jobs: list[tuple[str, str]] = []  # (code, path)
    dir_to_code = {}
    for code, _, _, dirs in LANGUAGES:
        for d in dirs:
            dir_to_code[d] = code
    for d in sorted(os.listdir(man_root)) if os.path.isdir(man_root) else []:
        code = dir_to_code.get(d)
        if code is None:
            continue
        for sub, _, files in sorted(os.walk(os.path.join(man_root, d))):
            for name in sorted(files):
                path = os.path.join(sub, name)
                if os.path.isfile(path) and not os.path.islink(path):
                    jobs.append((code, path))
    english = []
    for section in sorted(os.listdir(man_root)) if os.path.isdir(man_root) else []:
        if not section.startswith("man"):
            continue
        folder = os.path.join(man_root, section)
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                english.append(path)
    english.sort(key=lambda p: (stable_hash("man-sample:" + os.path.basename(p)), p))
    jobs += [("en", p) for p in english[:english_pages]]

    out: dict[str, dict[str, list[str]]] = collections.defaultdict(dict)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        texts = list(pool.map(lambda job: render_man(job[1], cache_dir), jobs))
    script_of_code = {code: script for code, _, script, _ in LANGUAGES}
    for (code, path), text in zip(jobs, texts):
        paragraphs = [p for p in man_paragraphs(text)
                      if dominant_script(words_of(p)) == script_of_code[code]
                      and (code == "en" or not looks_english(p))]
        if paragraphs:
            out[code].setdefault(man_page_group(path), []).extend(paragraphs)
    return out


# MARK: - Documents

def make_documents(segments: list[str], rng: random.Random) -> list[str]:
    """Consecutive segments joined into documents of DOC_MIN..DOC_MAX characters."""
    docs = []
    current = ""
    target = rng.randint(DOC_MIN, 1200)
    for seg in segments:
        if len(seg) > DOC_MAX:
            seg = seg[:DOC_MAX].rsplit(" ", 1)[0] if " " in seg[:DOC_MAX] else seg[:DOC_MAX]
        joined = seg if not current else current + " " + seg
        if len(joined) > DOC_MAX:
            if len(current) >= DOC_MIN:
                docs.append(current)
            current = seg
            target = rng.randint(DOC_MIN, 1200)
        else:
            current = joined
        if len(current) >= target:
            docs.append(current)
            current = ""
            target = rng.randint(DOC_MIN, 1200)
    if len(current) >= DOC_MIN:
        docs.append(current)
    return docs


def build_splits(sources: dict[str, dict[str, list[str]]]):
    """Per language: training segments, dev documents, test documents (test/dev never share a
    source group with train, and strings seen in training are removed from them)."""
    splits = {}
    for code, _, _, _ in LANGUAGES:
        groups = sources.get(code, {})
        sides = assign_splits(code, groups)
        train_segments: list[str] = []
        seen: set[str] = set()
        for group in sorted(groups):
            if sides[group] == "train":
                for seg in groups[group]:
                    if seg not in seen:
                        seen.add(seg)
                        train_segments.append(seg)
        rng = random.Random("%d:%s" % (SEED, code))
        if sum(map(len, train_segments)) > TRAIN_CAP:
            rng.shuffle(train_segments)
            kept, total = [], 0
            for seg in train_segments:
                if total >= TRAIN_CAP:
                    break
                kept.append(seg)
                total += len(seg)
            train_segments = kept
        held = {"dev": [], "test": []}
        for group in sorted(groups):
            side = sides[group]
            if side == "train":
                continue
            fresh, used = [], set()
            for seg in groups[group]:
                if seg in seen or seg in used:
                    continue
                used.add(seg)
                fresh.append(seg)
            drng = random.Random("%d:%s:%s" % (SEED, code, group))
            held[side] += [(group, d) for d in make_documents(fresh, drng)]
        for side, cap in (("dev", DEV_CAP), ("test", TEST_CAP)):
            docs = held[side]
            if len(docs) > cap:
                # Spread the sample over groups: round-robin over groups in sorted order.
                by_group = collections.defaultdict(list)
                for g, d in docs:
                    by_group[g].append(d)
                order = sorted(by_group)
                picked = []
                i = 0
                while len(picked) < cap:
                    for g in order:
                        if i < len(by_group[g]) and len(picked) < cap:
                            picked.append((g, by_group[g][i]))
                    i += 1
                docs = picked
            held[side] = docs
        splits[code] = (train_segments, held["dev"], held["test"])
    return splits


# MARK: - Training

def train(splits, codes):
    """Bucket counts per language -> the sparse quantized model."""
    V = 1 << BUCKET_BITS
    entries: dict[int, list[tuple[int, int]]] = collections.defaultdict(list)
    floors = []
    for index, code in enumerate(codes):
        word_counts = collections.Counter()
        for seg in splits[code][0]:
            word_counts.update(words_of(seg))
        counts = collections.Counter()
        for word, c in word_counts.items():
            for b in word_buckets(word):
                counts[b] += c
        total = sum(counts.values())
        floors.append(math.log(ALPHA / (total + ALPHA * V)))
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_K]
        for b, c in top:
            q = int(math.floor(QUANT_SCALE * math.log1p(c / ALPHA) + 0.5))
            q = max(1, min(255, q))
            entries[b].append((index, q))
    return floors, entries


class Model:
    def __init__(self, codes, scripts, floors, entries, temperature):
        self.codes = codes
        self.scripts = scripts
        self.floors = floors
        self.entries = entries
        self.temperature = temperature
        # Each bucket's weights packed into one integer, 32 bits per language, so a document's
        # sums are a few big-integer additions (fast without numpy).
        self.rows = {b: sum(q << (32 * l) for l, q in es) for b, es in entries.items()}

    def raw(self, text: str, max_chars: int = MAX_CHARS):
        """(n-gram count, dominant script, integer weight sums per language)."""
        words = words_of(text, max_chars)
        script = dominant_script(words)
        n = 0
        acc = 0
        rows = self.rows
        bucket_counts = collections.Counter()
        for word, c in collections.Counter(words).items():
            bs = word_buckets(word)
            n += c * len(bs)
            for b in bs:
                bucket_counts[b] += c
        for b, c in bucket_counts.items():
            row = rows.get(b)
            if row is not None:
                acc += row * c
        mask = (1 << 32) - 1
        sums = [(acc >> (32 * l)) & mask for l in range(len(self.codes))]
        return n, script, sums

    def classify_raw(self, n, script, sums, temperature=None):
        """(code or 'und', score): the exact computation LanguageModel.swift repeats."""
        k = self.temperature if temperature is None else temperature
        candidates = [l for l, s in enumerate(self.scripts) if s == script]
        if n == 0 or not candidates:
            return "und", 0.0
        norm = k / max(float(n), MIN_NGRAMS)
        z = [(float(n) * self.floors[l] + float(sums[l]) / QUANT_SCALE) * norm for l in candidates]
        best = 0
        for i in range(1, len(z)):
            if z[i] > z[best]:
                best = i
        total = 0.0
        for v in z:
            total += math.exp(v - z[best])
        return self.codes[candidates[best]], 1.0 / total

    def classify(self, text: str, max_chars: int = MAX_CHARS):
        return self.classify_raw(*self.raw(text, max_chars))

    def to_bytes(self) -> bytes:
        V = 1 << BUCKET_BITS
        counts = bytearray(V)
        langs = bytearray()
        weights = bytearray()
        for b in sorted(self.entries):
            es = sorted(self.entries[b])
            counts[b] = len(es)
            for l, q in es:
                langs.append(l)
                weights.append(q)
        out = bytearray(b"PIPELANG")
        out += struct.pack("<5I", 1, len(self.codes), BUCKET_BITS, MAX_N, len(langs))
        out += struct.pack("<3d", QUANT_SCALE, self.temperature, MIN_NGRAMS)
        for code, script, floor in zip(self.codes, self.scripts, self.floors):
            out += code.encode("ascii").ljust(8, b"\0") + struct.pack("<B7xd", script, floor)
        out += counts + langs + weights
        out += struct.pack("<Q", fnv1a64(bytes(out)))
        return bytes(out)


def calibrate(model: Model, dev_docs) -> float:
    """The temperature minimizing the log loss on the dev documents."""
    raws = [(code, model.raw(text)) for code, text in dev_docs]
    best_k, best_loss = 1.0, float("inf")
    for k in [0.25 * 1.25 ** i for i in range(30)]:
        loss = 0.0
        for code, (n, script, sums) in raws:
            candidates = [l for l, s in enumerate(model.scripts) if s == script]
            if n == 0 or not candidates:
                continue
            norm = k / max(float(n), MIN_NGRAMS)
            z = {l: (n * model.floors[l] + sums[l] / QUANT_SCALE) * norm for l in candidates}
            m = max(z.values())
            log_total = m + math.log(sum(math.exp(v - m) for v in z.values()))
            truth = model.codes.index(code)
            loss -= (z[truth] - log_total) if truth in z else -30.0
        if loss < best_loss:
            best_k, best_loss = k, loss
    return round(best_k, 4)


# MARK: - Main

def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.abspath(os.path.join(here, "..", "..", "..", ".."))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--locale-root", default="/usr/share/locale")
    parser.add_argument("--man-root", default="/usr/share/man")
    parser.add_argument("--english-man-pages", type=int, default=400)
    parser.add_argument("--cache", default=os.environ.get("PIPE_LANGID_CACHE", "/tmp/pipe-langid-cache"))
    parser.add_argument("--model", default=os.path.join(here, "langid.bin"))
    parser.add_argument("--golden", default=os.path.join(repo, "Tests", "PipeStagesTests", "Language", "golden.jsonl"))
    parser.add_argument("--dry-run", action="store_true", help="evaluate only; write nothing")
    parser.add_argument("--errors", help="write up to 400 misclassified test documents to this JSONL file")
    parser.add_argument("--export-test", help="write every held-out test document as a record (id, text, "
                        "metadata.language) to this JSONL file, for Tests/Benchmarks/langid_bench.py")
    parser.add_argument("--export-dev", help="the same for the dev documents (for tuning lang.id's settings)")
    args = parser.parse_args()
    started = time.monotonic()

    def log(message: str):
        print("[%6.1fs] %s" % (time.monotonic() - started, message), file=sys.stderr, flush=True)

    check_tables()
    log("reading gettext catalogues under %s" % args.locale_root)
    sources = collect_gettext(args.locale_root)
    log("rendering man pages under %s (cache %s)" % (args.man_root, args.cache))
    for code, groups in collect_man(args.man_root, os.path.join(args.cache, "man"), args.english_man_pages).items():
        for group, segs in groups.items():
            sources[code].setdefault(group, []).extend(segs)
    splits = build_splits(sources)

    codes, scripts, names, skipped = [], [], {}, []
    for code, name, script, _ in LANGUAGES:
        train_chars = sum(map(len, splits[code][0]))
        if len(splits[code][2]) < MIN_TEST_DOCS or train_chars < MIN_TRAIN_CHARS:
            skipped.append("%s (%d train chars, %d test docs)" % (code, train_chars, len(splits[code][2])))
            continue
        codes.append(code)
        scripts.append(script)
        names[code] = name
    if skipped:
        log("left out for lack of data: " + ", ".join(skipped))
    log("training on %d languages" % len(codes))
    floors, entries = train(splits, codes)
    model = Model(codes, scripts, floors, entries, 1.0)
    dev = [(code, text) for code in codes for _, text in splits[code][1]]
    model.temperature = calibrate(model, dev)
    log("temperature %.4f from %d dev documents" % (model.temperature, len(dev)))

    # Evaluation on the test split.
    rows = []
    below = 0
    errors = []
    golden = []
    accuracies = []
    for code, script in zip(codes, scripts):
        tests = splits[code][2]
        confusions = collections.Counter()
        correct = 0
        for i, (group, text) in enumerate(tests):
            predicted, score = model.classify(text)
            if score < 0.65:
                below += 1
            if predicted == code:
                correct += 1
            else:
                confusions[predicted] += 1
            if predicted != code and len(errors) < 400:
                errors.append((code, predicted, score, text))
            if i < GOLDEN_PER_LANGUAGE:
                # Whole documents, a 40-character prefix and a single word, so the short-text
                # side of the score is checked too.
                sample = [text[:GOLDEN_MAX_CHARS], text[:GOLDEN_MAX_CHARS], text[:40],
                          (words_of(text) or [""])[0]][i]
                p, sc = model.classify(sample)
                golden.append({"id": "%s-%d" % (code, i), "language": code, "group": group,
                               "predicted": p, "score": sc, "text": sample})
        accuracy = correct / len(tests)
        accuracies.append(accuracy)
        confused = ", ".join("%s %d" % kv for kv in sorted(confusions.items(), key=lambda kv: (-kv[1], kv[0]))[:2])
        rows.append((code, names[code], SCRIPTS[script], sum(map(len, splits[code][0])), len(tests), accuracy, confused))

    print("| code | language | script | train chars | test docs | accuracy | most confused with |")
    print("|---|---|---|---:|---:|---:|---|")
    for code, name, script, train_chars, n, acc, confused in rows:
        print("| %s | %s | %s | %d | %d | %.3f | %s |" % (code, name, script, train_chars, n, acc, confused or "-"))
    macro = sum(accuracies) / len(accuracies)
    micro_n = sum(r[4] for r in rows)
    micro = sum(r[4] * r[5] for r in rows) / micro_n
    print()
    print("languages: %d; test documents: %d (200-2,000 characters each)" % (len(codes), micro_n))
    print("macro accuracy: %.4f; micro accuracy: %.4f" % (macro, micro))
    print("test documents scored below 0.65 (dropped by the default threshold): %d (%.2f%%)"
          % (below, 100.0 * below / micro_n))
    for path, split in ((args.export_test, 2), (args.export_dev, 1)):
        if not path:
            continue
        with open(path, "w", encoding="utf-8") as f:
            for code in codes:
                for i, (group, text) in enumerate(splits[code][split]):
                    f.write(json.dumps({"id": "%s-%d" % (code, i), "text": text,
                                        "metadata": {"language": code, "group": group}}, ensure_ascii=False) + "\n")
    if args.errors:
        with open(args.errors, "w", encoding="utf-8") as f:
            for e in errors:
                f.write(json.dumps(e, ensure_ascii=False) + "\n")
    blob = model.to_bytes()
    print("model: %d bytes, %d entries, %d buckets, temperature %.4f"
          % (len(blob), sum(len(e) for e in entries.values()), 1 << BUCKET_BITS, model.temperature))
    if not args.dry_run:
        with open(args.model, "wb") as f:
            f.write(blob)
        os.makedirs(os.path.dirname(args.golden), exist_ok=True)
        with open(args.golden, "w", encoding="utf-8") as f:
            f.write(json.dumps({"id": "characters", "characters": character_table()}) + "\n")
            for item in golden:
                f.write(json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n")
        log("wrote %s and %s (%d golden texts)" % (os.path.relpath(args.model, repo), os.path.relpath(args.golden, repo), len(golden)))
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
