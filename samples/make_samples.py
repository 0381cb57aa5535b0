#!/usr/bin/env python3
"""Regenerate the bundled sample corpus of `pipe` from real text on this machine.

Usage:  python3 samples/make_samples.py

Sources (all read offline from the installed Debian system):
  * translated man pages under /usr/share/man/<lang>/ rendered with groff,
  * gettext catalogues /usr/share/locale/<lang>/LC_MESSAGES/*.mo (parsed here),
  * English man pages and /usr/share/doc READMEs,
  * source code: Python stdlib, C / C++ headers, Perl modules, shell scripts,
    npm's JavaScript, the OpenJDK src.zip, rustdoc source pages, PostgreSQL SQL
    scripts and the Go files shipped in git's contrib directory.

On top of the original documents the script derives exact duplicates, near
duplicates and junk pages (all built from the same real material) and records
which is which in samples/labels.tsv.  The records themselves only carry
id/text/metadata(source, path, url).

Output is deterministic for a given machine: every directory listing is
sorted, every random choice comes from random.Random seeded with fixed
strings, and the shards are compressed with a fixed zstd command line.
Only the Python standard library plus the `groff` and `zstd` CLIs are used.
"""
from __future__ import annotations

import collections
import concurrent.futures
import functools
import gzip
import hashlib
import html
import io
import json
import math
import os
import random
import re
import struct
import subprocess
import sys
import unicodedata
import zipfile
import zlib
from pathlib import Path

SEED = 20240917
OUT_DIR = Path(__file__).resolve().parent
N_SHARDS = 4
ZSTD_CMD = ["zstd", "-19", "-q", "-T1", "-c"]
MIN_CHARS = 300
MAX_CHARS = 6000
MAX_FILE_BYTES = 3_000_000

# Share of derived records relative to the number of original documents.
EXACT_DUP_RATE = 0.033
NEAR_DUP_RATE = 0.044
JUNK_RATE = 0.033


def rng_for(*parts: object) -> random.Random:
    """A Random seeded from fixed strings (str seeds are hashed with sha512,
    so this does not depend on PYTHONHASHSEED)."""
    return random.Random(":".join([str(SEED)] + [str(p) for p in parts]))


# ---------------------------------------------------------------------------
# Generic helpers
# ---------------------------------------------------------------------------

def sorted_files(root: str | Path, pred=None, follow_links: bool = False) -> list[str]:
    """All regular (non-symlink) files under root, sorted by path.  The root is
    resolved first so that paths are the ones dpkg knows about."""
    root = os.path.realpath(root)
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=follow_links):
        dirnames.sort()
        for name in sorted(filenames):
            p = os.path.join(dirpath, name)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            if pred is None or pred(p):
                out.append(p)
    out.sort()
    return out


def read_bytes(path: str) -> bytes | None:
    try:
        if os.path.getsize(path) > MAX_FILE_BYTES:
            return None
        with open(path, "rb") as fh:
            data = fh.read()
        if path.endswith(".gz"):
            data = gzip.decompress(data)
        return data
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile):
        return None


def decode_utf8(data: bytes | None) -> str | None:
    if data is None or b"\x00" in data:
        return None
    try:
        return data.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return None


_CTRL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f\ufeff]")
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_OVERSTRIKE_RE = re.compile(r".\x08")


def normalize(text: str) -> str:
    """Unify newlines, drop control characters, trailing spaces and runs of
    blank lines.  Tabs and indentation are kept."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CTRL_RE.sub("", text)
    lines = [ln.rstrip() for ln in text.split("\n")]
    out: list[str] = []
    blank = 0
    for ln in lines:
        if ln == "":
            blank += 1
            if blank > 1:
                continue
        else:
            blank = 0
        out.append(ln)
    return "\n".join(out).strip("\n")


def cut(text: str, target: int) -> str | None:
    """Cut text to at most `target` characters at a paragraph boundary, else at
    a line boundary, else at a space.  None if nothing >= MIN_CHARS is left."""
    target = min(target, MAX_CHARS)
    if len(text) <= target:
        return text if len(text) >= MIN_CHARS else None
    window = text[: target + 1]
    for sep, floor in (("\n\n", max(MIN_CHARS, target // 2)), ("\n", MIN_CHARS), (" ", MIN_CHARS)):
        i = window.rfind(sep)
        if i >= floor:
            return text[:i].rstrip()
    return None


def draw_target(rng: random.Random, lo: int = 1200, hi: int = MAX_CHARS) -> int:
    """Log-uniform document length target."""
    return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def printable_ratio(text: str) -> float:
    if not text:
        return 0.0
    if text.replace("\n", "").replace("\t", "").isprintable():
        return 1.0
    ok = sum(1 for ch in text if ch.isprintable() or ch in "\n\t")
    return ok / len(text)


# ---------------------------------------------------------------------------
# Scripts and a tiny English detector (used only for *filtering* sources)
# ---------------------------------------------------------------------------

_SCRIPT_NAMES = {
    "LATIN": "Latn", "CYRILLIC": "Cyrl", "GREEK": "Grek", "ARABIC": "Arab",
    "HEBREW": "Hebr", "DEVANAGARI": "Deva", "BENGALI": "Beng", "TAMIL": "Taml",
    "THAI": "Thai", "GEORGIAN": "Geor", "ARMENIAN": "Armn", "CJK": "Hani",
    "HIRAGANA": "Hira", "KATAKANA": "Kana", "HANGUL": "Hang",
}


@functools.lru_cache(maxsize=None)
def char_script(ch: str) -> str | None:
    if not ch.isalpha():
        return None
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return None
    first = name.split()[0]
    if first == "FULLWIDTH" and "LATIN" in name:
        return "Latn"
    if first == "HALFWIDTH" and "KATAKANA" in name:
        return "Kana"
    return _SCRIPT_NAMES.get(first, "Other")


def script_profile(text: str) -> collections.Counter:
    c: collections.Counter = collections.Counter()
    for ch in text:
        s = char_script(ch)
        if s:
            c[s] += 1
    return c


def script_ok(text: str, expected: str, min_share: float = 0.5) -> bool:
    prof = script_profile(text)
    total = sum(prof.values())
    if total < 20:
        return False
    kana = prof["Hira"] + prof["Kana"]
    if expected == "Latn":
        return prof["Latn"] / total >= 0.9
    if expected == "Jpan":
        return (kana + prof["Hani"]) / total >= min_share and kana / total >= 0.08
    if expected in ("Hans", "Hant"):
        return prof["Hani"] / total >= min_share and kana / total < 0.01
    if expected == "Kore":
        return prof["Hang"] / total >= min_share
    return prof[expected] / total >= min_share


EN_WORDS = frozenset(
    "the and with which this that are from when your you should must have has "
    "these those there their only been does would into such than then".split()
)
_WORD_RE = re.compile(r"[A-Za-z']+")


def english_ratio(text: str, min_words: int = 6) -> float:
    words = _WORD_RE.findall(text)
    if len(words) < min_words:
        return 0.0
    return sum(1 for w in words if w.lower() in EN_WORDS) / len(words)


def drop_english_paragraphs(text: str) -> tuple[str, float]:
    """Remove untranslated (English) paragraphs from a translated document.
    Returns the cleaned text and the share of characters removed."""
    paras = text.split("\n\n")
    kept = [p for p in paras if english_ratio(p) < 0.08]
    removed = sum(len(p) for p in paras) - sum(len(p) for p in kept)
    return "\n\n".join(kept), removed / max(1, len(text))


# ---------------------------------------------------------------------------
# Man pages
# ---------------------------------------------------------------------------

GROFF_ENV = {
    "PATH": "/usr/bin:/bin",
    "LC_ALL": "C.UTF-8",
    "SOURCE_DATE_EPOCH": "0",
    "GROFF_NO_SGR": "1",
}


def render_man(path: str) -> str | None:
    src = decode_utf8(read_bytes(path))
    if src is None:
        return None
    stripped = [ln for ln in src.split("\n") if ln.strip() and not ln.startswith(('.\\"', "'\\\""))]
    if len(stripped) < 5 or (stripped and stripped[0].startswith(".so ")):
        return None
    # Left-adjust and no hyphenation so that words are not split or padded.
    data = (".ad l\n.nh\n" + src).encode("utf-8")
    try:
        proc = subprocess.run(
            ["groff", "-Tutf8", "-mandoc", "-k", "-K", "utf8", "-rLL=78n", "-rHY=0", "-P-cbou"],
            input=data, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=GROFF_ENV, timeout=120, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    out = decode_utf8(proc.stdout)
    if out is None:
        return None
    out = _ANSI_RE.sub("", out)
    out = _OVERSTRIKE_RE.sub("", out)
    return normalize(out)


def render_many(paths: list[str]) -> list[str | None]:
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
        return list(ex.map(render_man, paths))


def man_files(root: str) -> list[str]:
    return sorted_files(root, lambda p: re.search(r"/man[1-9][a-z]*/[^/]+\.[1-9][a-z]*(\.gz)?$", p) is not None)


# ---------------------------------------------------------------------------
# gettext .mo parsing
# ---------------------------------------------------------------------------

def parse_mo(path: str) -> list[tuple[str, str]] | None:
    data = read_bytes(path)
    if data is None or len(data) < 28:
        return None
    magic = struct.unpack_from("<I", data, 0)[0]
    if magic == 0x950412DE:
        end = "<"
    elif magic == 0xDE120495:
        end = ">"
    else:
        return None
    _rev, n, o_off, t_off = struct.unpack_from(end + "4I", data, 4)
    raw = []
    try:
        for i in range(n):
            olen, ooff = struct.unpack_from(end + "2I", data, o_off + 8 * i)
            tlen, toff = struct.unpack_from(end + "2I", data, t_off + 8 * i)
            raw.append((data[ooff:ooff + olen], data[toff:toff + tlen]))
    except struct.error:
        return None
    charset = "utf-8"
    for mid, mstr in raw:
        if mid == b"":
            m = re.search(rb"charset=([A-Za-z0-9_.:-]+)", mstr)
            if m:
                charset = m.group(1).decode("ascii").lower()
    if charset in ("charset", "ascii", "us-ascii"):
        charset = "utf-8"
    out = []
    for mid, mstr in raw:
        if mid == b"" or not mstr:
            continue
        try:
            s = mstr.split(b"\x00")[0].decode(charset, errors="strict")
            i = mid.split(b"\x00")[0].decode(charset, errors="strict")
        except (UnicodeDecodeError, LookupError):
            return None
        out.append((i, s))
    return out


# ---------------------------------------------------------------------------
# Languages
# ---------------------------------------------------------------------------

# man directory -> (ISO 639-1, ISO 15924 script)
MAN_LANGS = {
    "cs": ("cs", "Latn"), "da": ("da", "Latn"), "de": ("de", "Latn"), "es": ("es", "Latn"),
    "fi": ("fi", "Latn"), "fr": ("fr", "Latn"), "hr": ("hr", "Latn"), "hu": ("hu", "Latn"),
    "id": ("id", "Latn"), "it": ("it", "Latn"), "ja": ("ja", "Jpan"), "ko": ("ko", "Kore"),
    "nl": ("nl", "Latn"), "pl": ("pl", "Latn"), "pt": ("pt", "Latn"), "pt_BR": ("pt", "Latn"),
    "ro": ("ro", "Latn"), "ru": ("ru", "Cyrl"), "sl": ("sl", "Latn"), "sr": ("sr", "Cyrl"),
    "sv": ("sv", "Latn"), "tr": ("tr", "Latn"), "uk": ("uk", "Cyrl"),
    "zh_CN": ("zh", "Hans"), "zh_TW": ("zh", "Hant"),
}
MAN_I18N_QUOTA = 34

# locale directory -> (ISO 639-1, script, quota)
GETTEXT_LANGS = {
    "el": ("el", "Grek", 26), "ar": ("ar", "Arab", 26), "fa": ("fa", "Arab", 22),
    "he": ("he", "Hebr", 26), "hi": ("hi", "Deva", 26), "bn": ("bn", "Beng", 22),
    "ta": ("ta", "Taml", 22), "th": ("th", "Thai", 26), "ka": ("ka", "Geor", 24),
    "hy": ("hy", "Armn", 20), "bg": ("bg", "Cyrl", 24), "vi": ("vi", "Latn", 24),
    "ca": ("ca", "Latn", 22), "eu": ("eu", "Latn", 22), "et": ("et", "Latn", 22),
    "lt": ("lt", "Latn", 22), "sk": ("sk", "Latn", 22), "gl": ("gl", "Latn", 20),
    # languages that also have man pages: a few catalogue documents each
    "fi": ("fi", "Latn", 16), "hu": ("hu", "Latn", 14), "hr": ("hr", "Latn", 14),
    "sl": ("sl", "Latn", 14), "ja": ("ja", "Jpan", 10), "zh_CN": ("zh", "Hans", 16),
    "zh_TW": ("zh", "Hant", 18), "ko": ("ko", "Kore", 8), "ru": ("ru", "Cyrl", 8),
    "es": ("es", "Latn", 8), "tr": ("tr", "Latn", 8),
}
GETTEXT_SKIP = re.compile(r"^(iso_|xkeyboard-config)")  # lists of names, not prose

EN_MAN_QUOTA = 260
DOC_QUOTA = 160


# ---------------------------------------------------------------------------
# Document collection
# ---------------------------------------------------------------------------

class Doc:
    __slots__ = ("key", "source", "path", "text", "kind", "lang", "script", "role", "dup_of")

    def __init__(self, source, path, text, kind, lang, script, role="original", dup_of=None):
        self.key = None
        self.source = source
        self.path = path
        self.text = text
        self.kind = kind
        self.lang = lang
        self.script = script
        self.role = role
        self.dup_of = dup_of


def collect_man_i18n(dd: Deduper) -> list[Doc]:
    docs = []
    for d in sorted(MAN_LANGS):
        lang, script = MAN_LANGS[d]
        files = man_files(f"/usr/share/man/{d}")
        rng = rng_for("man-i18n", d)
        rng.shuffle(files)
        rendered = render_many(files[: MAN_I18N_QUOTA * 4])
        n = 0
        for path, text in zip(files, rendered):
            if n >= MAN_I18N_QUOTA:
                break
            if not text:
                continue
            text, removed = drop_english_paragraphs(text)
            if removed > 0.35:
                continue
            text = cut(normalize(text), draw_target(rng))
            share = 0.3 if script in ("Hans", "Hant", "Jpan", "Kore") else 0.45
            if not text or not script_ok(text, script, share) or english_ratio(text, 30) >= 0.04:
                continue
            if not dd.add(text):
                continue
            docs.append(Doc("man-i18n", path, text, "text", lang, script))
            n += 1
        print(f"  man-i18n {d:6s} {n:3d} docs from {len(files)} pages", file=sys.stderr)
    return docs


def collect_man_en(dd: Deduper) -> list[Doc]:
    files = man_files("/usr/share/man")
    # the ~16,000 generated gcloud_* pages are all the same template; skip them
    files = [p for p in files if re.match(r"/usr/share/man/man[1-9]", p) and "/gcloud" not in p]
    rng = rng_for("man-en")
    rng.shuffle(files)
    rendered = render_many(files[: EN_MAN_QUOTA * 3])
    docs = []
    for path, text in zip(files, rendered):
        if len(docs) >= EN_MAN_QUOTA:
            break
        if not text:
            continue
        text = cut(text, draw_target(rng))
        if not text or not script_ok(text, "Latn") or english_ratio(text, 30) < 0.04:
            continue
        if not dd.add(text):
            continue
        docs.append(Doc("man", path, text, "text", "en", "Latn"))
    print(f"  man en {len(docs)} docs from {len(files)} pages", file=sys.stderr)
    return docs


def collect_gettext(dd: Deduper) -> list[Doc]:
    docs = []
    for d in sorted(GETTEXT_LANGS):
        lang, script, quota = GETTEXT_LANGS[d]
        base = f"/usr/share/locale/{d}/LC_MESSAGES"
        if not os.path.isdir(base):
            continue
        cats = [p for p in sorted_files(base) if p.endswith(".mo") and not GETTEXT_SKIP.match(os.path.basename(p))]
        rng = rng_for("gettext", d)
        rng.shuffle(cats)
        seen: dict[str, None] = {}
        n = 0
        per_cat = max(2, quota // 6)
        for cat in cats:
            if n >= quota:
                break
            entries = parse_mo(cat)
            if not entries:
                continue
            strings = []
            for msgid, s in entries:
                s = normalize(s)
                if len(s) < 20 or s in seen or s == normalize(msgid):
                    continue
                if english_ratio(s, 5) >= 0.08:
                    continue
                if script != "Latn" and not script_ok(s, script, 0.5):
                    continue
                if script == "Latn" and not script_ok(s, "Latn"):
                    continue
                strings.append(s)
            if sum(len(s) for s in strings) < 600:
                continue
            # consecutive runs of strings form documents
            start = rng.randrange(len(strings))
            made = 0
            i = start
            while made < per_cat and n < quota:
                target = draw_target(rng, 700, 3500)
                buf, size = [], 0
                while i < len(strings) and size < target:
                    if size + len(strings[i]) + 1 > MAX_CHARS:
                        break
                    buf.append(strings[i])
                    size += len(strings[i]) + 1
                    i += 1
                if i >= len(strings) and start > 0 and size < MIN_CHARS:
                    i, start = 0, 0  # wrap around once
                    continue
                text = "\n".join(buf)
                if len(text) < MIN_CHARS:
                    break
                if not script_ok(text, script, 0.5) or not dd.add(text):
                    continue
                for s in buf:
                    seen[s] = None
                docs.append(Doc("gettext", cat, text, "text", lang, script))
                made += 1
                n += 1
        print(f"  gettext {d:6s} {n:3d} docs", file=sys.stderr)
    return docs


def collect_doc(dd: Deduper) -> list[Doc]:
    pat = re.compile(r"/(README[^/]*|[^/]*\.md|[^/]*\.txt)(\.gz)?$", re.I)
    files = sorted_files("/usr/share/doc", lambda p: pat.search(p) is not None and "copyright" not in p.lower())
    rng = rng_for("doc")
    rng.shuffle(files)
    docs, used_pkgs = [], set()
    for path in files:
        if len(docs) >= DOC_QUOTA:
            break
        pkg = path.split("/")[4]
        if pkg in used_pkgs:
            continue
        text = decode_utf8(read_bytes(path))
        if not text:
            continue
        text = normalize(text)
        if printable_ratio(text) < 0.98 or max((len(ln) for ln in text.split("\n")), default=0) > 1000:
            continue
        text = cut(text, draw_target(rng))
        if not text or not script_ok(text, "Latn") or english_ratio(text, 30) < 0.05:
            continue
        if not dd.add(text):
            continue
        used_pkgs.add(pkg)
        docs.append(Doc("doc", path, text, "text", "en", "Latn"))
    print(f"  doc {len(docs)} docs", file=sys.stderr)
    return docs


# --- code -------------------------------------------------------------------

def shebang_shell(p: str) -> bool:
    try:
        with open(p, "rb") as fh:
            head = fh.read(40)
    except OSError:
        return False
    return re.match(rb"#! ?/(usr/)?bin/(env )?(ba|da)?sh\b", head) is not None


def rust_from_rustdoc(data: bytes) -> str | None:
    page = decode_utf8(data)
    if page is None:
        return None
    m = re.search(r"<pre class=\"rust\"><code>(.*?)</code></pre>", page, re.S)
    if not m:
        return None
    body = re.sub(r"<a href=#\d+ id=\d+ data-nosnippet>\d+</a>", "", m.group(1))
    body = re.sub(r"<[^>]+>", "", body)
    return html.unescape(body)


RUST_HTML = os.path.expanduser("~/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc/rust/html/src")
# Debian's openjdk-17 src.zip is only a dangling symlink unless openjdk-17-source
# is installed; fall back to the Temurin JDK's src.zip.
JAVA_SRC_ZIPS = [
    "/usr/lib/jvm/java-17-openjdk-amd64/lib/src.zip",
    "/usr/lib/jvm/temurin-25-jdk-amd64/lib/src.zip",
]
JAVA_SRC_ZIP = next((p for p in JAVA_SRC_ZIPS if os.path.isfile(p)), None)

CODE_SPECS = [
    # language, quota, min_chars, candidate generator
    ("python", 150, 400, lambda: sorted_files("/usr/lib/python3.11", lambda p: p.endswith(".py") and "/test" not in p and "/idlelib/idle_test" not in p)),
    ("c", 110, 400, lambda: sorted_files("/usr/include", lambda p: p.endswith(".h") and "/c++/" not in p and "/openssl/archs/" not in p)),
    ("cpp", 90, 400, lambda: sorted_files("/usr/include/c++/12") + sorted_files("/usr/include/x86_64-linux-gnu/c++/12")),
    ("perl", 90, 400, lambda: sorted_files("/usr/share/perl5", lambda p: p.endswith(".pm")) + sorted_files("/usr/share/perl/5.36", lambda p: p.endswith(".pm"))),
    ("shell", 90, 400, lambda: sorted(p for p in sorted_files("/usr/bin") + sorted_files("/usr/sbin") if shebang_shell(p)) + sorted_files("/usr/share", lambda p: p.endswith(".sh"))),
    ("javascript", 90, 400, lambda: sorted_files("/usr/lib/node_modules", lambda p: p.endswith(".js") and not p.endswith(".min.js"))),
    ("java", 90, 1500, None),  # from src.zip
    ("rust", 70, 600, lambda: sorted_files(RUST_HTML, lambda p: p.endswith(".rs.html")) if os.path.isdir(RUST_HTML) else []),
    ("sql", 60, 300, lambda: sorted_files("/usr/share/postgresql", lambda p: p.endswith(".sql"))),
    ("go", 10, 300, lambda: sorted_files("/usr/share/doc", lambda p: p.endswith(".go"))),
]


def code_text(lang: str, path: str, data: bytes | None) -> str | None:
    if lang == "rust":
        text = rust_from_rustdoc(data) if data else None
    else:
        text = decode_utf8(data)
    if text is None:
        return None
    text = normalize(text)
    if printable_ratio(text) < 0.98:
        return None
    lines = text.split("\n")
    if max((len(ln) for ln in lines), default=0) > 400:  # minified / generated
        return None
    return text


def collect_code(dd: Deduper) -> list[Doc]:
    docs = []
    for lang, quota, min_chars, gen in CODE_SPECS:
        rng = rng_for("code", lang)
        n = 0
        if lang == "java":
            if JAVA_SRC_ZIP is None:
                continue
            with zipfile.ZipFile(JAVA_SRC_ZIP) as zf:
                names = sorted(nm for nm in zf.namelist() if nm.endswith(".java") and "/share/classes/" not in nm)
                rng.shuffle(names)
                for nm in names:
                    if n >= quota:
                        break
                    info = zf.getinfo(nm)
                    if info.file_size > MAX_FILE_BYTES:
                        continue
                    text = code_text(lang, nm, zf.read(nm))
                    if not text:
                        continue
                    text = cut(text, draw_target(rng, max(min_chars, 1200)))
                    if not text or len(text) < min_chars or not dd.add(text):
                        continue
                    docs.append(Doc("code", f"{JAVA_SRC_ZIP}!/{nm}", text, "code", lang, "-"))
                    n += 1
        else:
            files = gen()
            rng.shuffle(files)
            for path in files:
                if n >= quota:
                    break
                text = code_text(lang, path, read_bytes(path))
                if not text:
                    continue
                text = cut(text, draw_target(rng, max(min_chars, 1200)))
                if not text or len(text) < min_chars or not dd.add(text):
                    continue
                docs.append(Doc("code", path, text, "code", lang, "-"))
                n += 1
        print(f"  code {lang:10s} {n:3d} docs", file=sys.stderr)
    return docs


# ---------------------------------------------------------------------------
# Removing accidental duplicates among the originals
# ---------------------------------------------------------------------------

def shingles(text: str, k: int = 9) -> set[int]:
    t = re.sub(r"\s+", " ", text.lower())
    return {zlib.crc32(t[i:i + k].encode("utf-8")) for i in range(0, max(1, len(t) - k + 1))}


class Deduper:
    """Rejects documents that are exact or near duplicates (Jaccard of hashed
    character 9-grams >= threshold) of an already accepted original, e.g. the
    same README in two packages, pt vs pt_BR translations, generated headers.
    The only duplicates left in the corpus are therefore the labelled ones."""

    def __init__(self, threshold: float = 0.3):
        self.threshold = threshold
        self.sets: list[set[int]] = []
        self.sample_sizes: list[int] = []
        self.index: dict[int, list[int]] = collections.defaultdict(list)
        self.exact: set[str] = set()
        self.rejected = 0

    def add(self, text: str) -> bool:
        h = hashlib.sha256(re.sub(r"\s+", " ", text).strip().encode()).hexdigest()
        if h in self.exact:
            self.rejected += 1
            return False
        sh = shingles(text)
        sample = sorted(x for x in sh if x % 8 == 0)
        counts: collections.Counter = collections.Counter()
        for x in sample:
            postings = self.index.get(x, ())
            if len(postings) > 200:  # very common n-gram: useless as evidence
                continue
            for j in postings:
                counts[j] += 1
        for j in sorted(counts):
            c = counts[j]
            # cheap estimate from the 1/8 sample first
            if c < 3 or c / (len(sample) + self.sample_sizes[j] - c) < self.threshold * 0.6:
                continue
            other = self.sets[j]
            if len(sh & other) / len(sh | other) >= self.threshold:
                self.rejected += 1
                return False
        self.exact.add(h)
        idx = len(self.sets)
        self.sets.append(sh)
        self.sample_sizes.append(len(sample))
        for x in sample:
            self.index[x].append(idx)
        return True


# ---------------------------------------------------------------------------
# Derived records: exact duplicates, near duplicates, junk
# ---------------------------------------------------------------------------

def copyright_lines(limit: int = 400) -> list[str]:
    """Real 'Copyright ...' lines from /usr/share/doc/*/copyright files."""
    out: dict[str, None] = {}
    for p in sorted_files("/usr/share/doc", lambda p: p.endswith("/copyright"))[:limit]:
        t = decode_utf8(read_bytes(p)) or ""
        for ln in t.split("\n"):
            ln = ln.strip()
            if ln.lower().startswith("copyright") and 20 < len(ln) < 100:
                out[ln] = None
    return sorted(out)


def boilerplate_lines() -> list[str]:
    """Whole lines that look like boilerplate: copyright notices and complete
    one-line sentences from the licence texts in /usr/share/common-licenses."""
    out = copyright_lines(150)
    for name in ("GPL-3", "LGPL-2.1", "Apache-2.0", "GPL-2"):
        text = decode_utf8(read_bytes(f"/usr/share/common-licenses/{name}")) or ""
        for ln in text.split("\n")[:60]:
            ln = ln.strip()
            if 25 <= len(ln) <= 100 and ln[0].isupper() and (ln.endswith(".") or ln.startswith("Copyright")):
                out.append(ln)
    return out


COMMENT = {"python": "# ", "shell": "# ", "perl": "# ", "sql": "-- ", "c": "/* ", "cpp": "// ",
           "java": "// ", "javascript": "// ", "rust": "// ", "go": "// "}


def tokens_spaced(text: str) -> bool:
    return text.count(" ") > len(text) / 25


def mutate_words(text: str, rng: random.Random) -> str:
    """Replace / delete / insert a few words (or short character runs for
    unspaced scripts), copying replacement material from the same text."""
    if tokens_spaced(text):
        parts = re.split(r"( +)", text)
        word_idx = [i for i in range(0, len(parts), 2) if parts[i] and "\n" not in parts[i]]
        if len(word_idx) < 20:
            return text
        n_edits = max(2, min(8, len(word_idx) // 80))
        for _ in range(n_edits):
            op = rng.choice(("replace", "delete", "insert"))
            i = rng.choice(word_idx)
            donor = parts[rng.choice(word_idx)]
            if op == "replace":
                parts[i] = donor
            elif op == "delete":
                parts[i] = ""
                if i + 1 < len(parts):
                    parts[i + 1] = parts[i + 1][1:]  # drop one separating space
            else:
                parts[i] = parts[i] + " " + donor
        return "".join(parts)
    chars = list(text)
    n_edits = max(2, min(8, len(chars) // 150))
    for _ in range(n_edits):
        i = rng.randrange(len(chars))
        j = rng.randrange(len(chars))
        if chars[i] == "\n" or chars[j] == "\n":
            continue
        op = rng.choice(("replace", "delete", "insert"))
        if op == "replace":
            chars[i] = chars[j]
        elif op == "delete":
            chars[i] = ""
        else:
            chars[i] = chars[i] + "".join(chars[j:j + rng.randint(1, 4)]).replace("\n", "")
    return "".join(chars)


def mutate_whitespace(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    mode = rng.choice(("trailing", "indent", "blank", "double"))
    out = []
    for ln in lines:
        if mode == "trailing" and ln and rng.random() < 0.3:
            ln = ln + " " * rng.randint(1, 3)
        elif mode == "indent" and ln.startswith(" ") and rng.random() < 0.6:
            ln = ln.replace("    ", "\t", 1) if ln.startswith("    ") else " " + ln
        elif mode == "double" and ". " in ln and rng.random() < 0.5:
            ln = ln.replace(". ", ".  ")
        out.append(ln)
        if mode == "blank" and ln == "" and rng.random() < 0.5:
            out.append("")
    res = "\n".join(out)
    if res == text:
        res = text.replace("\n", "\n\n", 3) if "\n" in text else text + "\n"
    return res


def mutate_boilerplate(doc: Doc, text: str, rng: random.Random, lines: list[str]) -> str:
    line = rng.choice(lines)
    if doc.kind == "code":
        c = COMMENT.get(doc.lang, "# ")
        line = c + line + (" */" if c == "/* " else "")
    if rng.random() < 0.5:
        return line + "\n" + text
    return text + "\n\n" + line


def make_near_dup(doc: Doc, rng: random.Random, bp: list[str]) -> str:
    kinds = rng.sample(("words", "whitespace", "boilerplate"), k=rng.choice((1, 1, 2)))
    text = doc.text
    for kind in kinds:
        if kind == "words":
            text = mutate_words(text, rng)
        elif kind == "whitespace":
            text = mutate_whitespace(text, rng)
        else:
            text = mutate_boilerplate(doc, text, rng, bp)
    if text == doc.text:
        text = mutate_boilerplate(doc, text, rng, bp)
    return text


def make_junk(originals: list[Doc], n: int, rng: random.Random) -> list[Doc]:
    out: list[Doc] = []
    mans = [d for d in originals if d.source in ("man", "man-i18n")]
    texts = [d for d in originals if d.kind == "text"]
    allowed = ("options", "repeat", "short", "boiler", "symbols", "mojibake")
    # real material for the symbol / number pages
    charmap = decode_utf8(read_bytes("/usr/share/i18n/charmaps/UTF-8.gz")) or ""
    charmap_lines = [ln for ln in charmap.split("\n") if ln.startswith("<U")]
    zones = decode_utf8(read_bytes("/usr/share/zoneinfo/zone1970.tab")) or ""
    zone_lines = [ln for ln in zones.split("\n") if ln and not ln.startswith("#")]
    cr_lines = copyright_lines()
    i = 0
    while len(out) < n:
        kind = allowed[i % len(allowed)]
        i += 1
        if kind == "options" and mans:
            d = rng.choice(mans)
            opts = [ln.strip() for ln in d.text.split("\n") if re.match(r"\s+--?[A-Za-z0-9]", ln)]
            if len(opts) < 4:
                continue
            out.append(Doc(d.source, d.path, "\n".join(opts), "text", "-", "Latn", "junk"))
        elif kind == "repeat":
            d = rng.choice(originals)
            cands = [ln for ln in d.text.split("\n") if len(ln.strip()) >= 15]
            if not cands:
                continue
            k = rng.randint(1, 3)
            start = rng.randrange(len(cands))
            block = cands[start:start + k]
            text = "\n".join(block * rng.randint(40, 120))
            text = cut(text, MAX_CHARS) or text[:MAX_CHARS]
            out.append(Doc(d.source, d.path, text, d.kind, d.lang, d.script, "junk"))
        elif kind == "short":
            d = rng.choice(texts)
            cands = [ln.strip() for ln in d.text.split("\n") if 8 <= len(ln.strip()) <= 80]
            if not cands:
                continue
            out.append(Doc(d.source, d.path, rng.choice(cands), "text", d.lang, d.script, "junk"))
        elif kind == "boiler" and cr_lines and mans:
            d = rng.choice(mans)
            heads = [ln for ln in d.text.split("\n") if ln and not ln[0].isspace() and len(ln) < 40]
            nav = " | ".join(heads[1:8])
            cl = rng.sample(cr_lines, k=min(6, len(cr_lines)))
            body = []
            for _ in range(rng.randint(4, 8)):
                body.append(nav)
                body.extend(cl[: rng.randint(2, len(cl))])
                body.append("")
            text = "\n".join(body).strip()
            out.append(Doc(d.source, d.path, text[:MAX_CHARS], "text", "-", "Latn", "junk"))
        elif kind == "symbols":
            if rng.random() < 0.5 and charmap_lines:
                s = rng.randrange(max(1, len(charmap_lines) - 80))
                text = "\n".join(charmap_lines[s:s + rng.randint(30, 80)])
                path = "/usr/share/i18n/charmaps/UTF-8.gz"
            elif zone_lines:
                s = rng.randrange(max(1, len(zone_lines) - 60))
                text = "\n".join(zone_lines[s:s + rng.randint(25, 60)])
                path = "/usr/share/zoneinfo/zone1970.tab"
            else:
                continue
            out.append(Doc("doc", path, text, "text", "-", "Zyyy", "junk"))
        elif kind == "mojibake":
            d = rng.choice([t for t in texts if t.script != "Latn" or t.lang not in ("en",)])
            moj = d.text.encode("utf-8").decode("cp1252", errors="replace")
            moj = _CTRL_RE.sub("", moj)
            text = cut(moj, rng.randint(600, 3000)) or moj[:3000]
            out.append(Doc(d.source, d.path, text, "text", "-", "Latn", "junk"))
    return out


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def main() -> int:
    print("collecting sources ...", file=sys.stderr)
    dd = Deduper()
    originals = collect_man_i18n(dd) + collect_gettext(dd) + collect_man_en(dd) + collect_doc(dd) + collect_code(dd)
    print(f"  rejected {dd.rejected} accidental near/exact duplicates of earlier documents", file=sys.stderr)
    for d in originals:
        assert MIN_CHARS <= len(d.text) <= MAX_CHARS, (d.path, len(d.text))

    rng = rng_for("derive")
    n_orig = len(originals)
    n_exact = round(n_orig * EXACT_DUP_RATE)
    n_near = round(n_orig * NEAR_DUP_RATE)
    n_junk = round(n_orig * JUNK_RATE)
    for i, d in enumerate(originals):
        d.key = i
    picks = rng.sample(range(n_orig), n_exact + n_near)
    bp = boilerplate_lines()
    derived: list[Doc] = []
    for j, idx in enumerate(picks):
        src = originals[idx]
        if j < n_exact:
            derived.append(Doc(src.source, src.path, src.text, src.kind, src.lang, src.script, "exact_dup", src))
        else:
            text = make_near_dup(src, rng, bp)
            assert text != src.text
            derived.append(Doc(src.source, src.path, text, src.kind, src.lang, src.script, "near_dup", src))
    derived += make_junk(originals, n_junk, rng)

    records = originals + derived
    rng.shuffle(records)
    counters: collections.Counter = collections.Counter()
    for d in records:
        counters[d.source] += 1
        d.key = f"{d.source}-{counters[d.source]:06d}"

    # write shards
    per = math.ceil(len(records) / N_SHARDS)
    total_bytes = 0
    for s in range(N_SHARDS):
        chunk = records[s * per:(s + 1) * per]
        buf = io.StringIO()
        for d in chunk:
            rec = {"id": d.key, "text": d.text, "metadata": {"source": d.source, "path": d.path, "url": None}}
            buf.write(json.dumps(rec, ensure_ascii=False) + "\n")
        raw = buf.getvalue().encode("utf-8", errors="strict")
        comp = subprocess.run(ZSTD_CMD, input=raw, stdout=subprocess.PIPE, check=True).stdout
        (OUT_DIR / f"part-{s:05d}.jsonl.zst").write_bytes(comp)
        total_bytes += len(comp)
        print(f"  part-{s:05d}.jsonl.zst  {len(chunk)} records  {len(raw)} -> {len(comp)} bytes", file=sys.stderr)

    # labels
    rows = ["id\tkind\tlanguage\tscript\trole\tdup_of"]
    for d in sorted(records, key=lambda d: d.key):
        rows.append("\t".join([d.key, d.kind, d.lang, d.script, d.role, d.dup_of.key if d.dup_of else "-"]))
    (OUT_DIR / "labels.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")

    print_stats(records, total_bytes)
    return 0


ROLES = ("original", "exact_dup", "near_dup", "junk")


def role_table(title: str, records: list[Doc], key, header: str) -> str:
    groups: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for d in records:
        groups[key(d)][d.role] += 1
    lines = [f"| {header} | " + " | ".join(ROLES) + " | total |", "|---|" + "---:|" * (len(ROLES) + 1)]
    order = sorted(groups, key=lambda k: (k == "-", -groups[k]["original"], -sum(groups[k].values()), k))
    for k in order:
        c = groups[k]
        lines.append(f"| {k} | " + " | ".join(str(c[r]) for r in ROLES) + f" | {sum(c.values())} |")
    tot = collections.Counter(d.role for d in records)
    lines.append("| **total** | " + " | ".join(str(tot[r]) for r in ROLES) + f" | {len(records)} |")
    return f"**{title}**\n\n" + "\n".join(lines) + "\n"


def print_stats(records: list[Doc], total_bytes: int) -> None:
    text = [d for d in records if d.kind == "text"]
    code = [d for d in records if d.kind == "code"]
    print(f"records: {len(records)} ({len(text)} text, {len(code)} code); "
          f"compressed shards: {total_bytes} bytes\n")
    print(role_table("Natural-language records by language (ISO 639-1) and script (ISO 15924)", text,
                     lambda d: f"{d.lang} ({d.script})" if d.lang != "-" else f"- ({d.script})", "language (script)"))
    print(role_table("Natural-language records by script", text, lambda d: d.script, "script"))
    print(role_table("Code records by programming language", code, lambda d: d.lang, "language"))
    print(role_table("All records by metadata.source", records, lambda d: d.source, "source"))
    lens = sorted(len(d.text) for d in records if d.role == "original")
    print(f"original document length: min {lens[0]}, median {lens[len(lens) // 2]}, "
          f"max {lens[-1]} characters")


if __name__ == "__main__":
    sys.exit(main())
