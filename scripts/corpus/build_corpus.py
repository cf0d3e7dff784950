#!/usr/bin/env python3
"""Build a real multilingual text corpus offline from Debian documentation packages.

Debian ships translated documentation (man pages, LibreOffice and GIMP help, GNOME help,
the installation guide, fortune cookies, gettext catalogues of language packs). This script
downloads those packages with ``apt-get download`` (no install, no root needed for the
download itself), unpacks them with ``dpkg-deb -x`` and turns every page into one JSON line:

    {"id": ..., "text": ..., "source": "<debian package>", "url": "<path inside the package>",
     "meta": {"package_version": ..., "declared_lang": ..., "kind": ...}}

``declared_lang`` is only what the package *says* the page is in. The translations contain
untranslated English pages, mixed pages and many near-duplicates: the data-prep pipeline's
language ID and dedup are supposed to sort that out, so nothing is cleaned here.

Usage:
    python scripts/corpus/build_corpus.py --size sample --output data/sample
    python scripts/corpus/build_corpus.py --size bench  --output data/bench

Only the standard library is needed, plus the Debian tools ``apt-get``, ``dpkg-deb`` and
(for man pages) ``groff``. The build is deterministic for a given set of package versions:
file lists are sorted, document ids are a hash of package + path + chunk index, gzip output
carries no timestamp. Downloaded ``.deb`` files and their unpacked trees are kept in a cache
directory (default ``data/.deb-cache``) and reused on the next run.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import gettext
import gzip
import hashlib
import html
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

# The project's language tables (standard library only, so this script still needs nothing else).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from data_prep.languages import EU_LANGUAGES, ISO3_TO_ISO1  # noqa: E402

# Kinds of content we know how to extract.
MAN, LOHELP, GIMP, MALLARD, DOCBOOK_HTML, FORTUNE, GETTEXT, MOZILLA = (
    "man",
    "libreoffice-help",
    "gimp-help",
    "mallard",
    "docbook-html",
    "fortune",
    "gettext",
    "mozilla-l10n",
)


@dataclass(frozen=True)
class Source:
    package: str
    kind: str
    lang: str | None = None  # declared language if the package holds one language


# Which packages each size uses. "lang" is the declared language of single-language packages;
# multi-language packages (gnome-user-docs, installation-guide) get it from the path.
LOHELP_LANGS = [
    "cs",
    "da",
    "de",
    "el",
    "en-gb",
    "es",
    "et",
    "fi",
    "fr",
    "hu",
    "it",
    "nl",
    "pl",
    "pt",
    "sl",
    "sv",
]
MAN_LANGS = ["cs", "da", "de", "el", "es", "fi", "fr", "hu", "it", "nl", "pl", "ro", "sv"]
FORTUNE_PKGS = {
    "fortunes-bg": "bg",
    "fortunes-cs": "cs",
    "fortunes-de": "de",
    "fortunes-es": "es",
    "fortunes-ga": "ga",
    "fortunes-it": "it",
    "fortunes-pl": "pl",
    "fortunes": "en",
}
L10N_LANGS = [
    "bg",
    "et",
    "ga",
    "hr",
    "lt",
    "lv",
    "ro",
    "sk",
    "sl",
]  # language packs: UI strings for langs short of docs
GIMP_LANGS_BENCH = ["hr", "lt", "ro", "sl"]
# Firefox/Thunderbird language packs (Fluent .ftl and .properties UI strings)
MOZ_SAMPLE = {"firefox-esr-l10n-ga-ie": "ga", "firefox-esr-l10n-sk": "sk"}
MOZ_BENCH = {
    **{f"firefox-esr-l10n-{lg}": lg for lg in ["bg", "et", "hr", "lt", "lv", "ro", "sk", "sl"]},
    "firefox-esr-l10n-ga-ie": "ga",
    **{f"thunderbird-l10n-{lg}": lg for lg in ["bg", "et", "hr", "lt", "lv", "ro", "sk", "sl"]},
}

SAMPLE_SOURCES: list[Source] = (
    [Source(f"libreoffice-help-{lg}", LOHELP, "en" if lg == "en-gb" else lg) for lg in LOHELP_LANGS]
    + [Source("manpages", MAN, "en")]
    + [Source(f"manpages-{lg}", MAN, lg) for lg in MAN_LANGS]
    + [Source(p, FORTUNE, lg) for p, lg in sorted(FORTUNE_PKGS.items())]
    + [Source("gnome-user-docs", MALLARD), Source("installation-guide-amd64", DOCBOOK_HTML)]
    + [Source(f"libreoffice-l10n-{lg}", GETTEXT, lg) for lg in L10N_LANGS]
    + [Source(p, MOZILLA, lg) for p, lg in sorted(MOZ_SAMPLE.items())]
)
BENCH_SOURCES: list[Source] = (
    SAMPLE_SOURCES
    + [Source(p, MOZILLA, lg) for p, lg in sorted(MOZ_BENCH.items()) if p not in MOZ_SAMPLE]
    + [Source(f"gimp-help-{lg}", GIMP, lg) for lg in GIMP_LANGS_BENCH]
    + [Source(f"debian-reference-{lg}", DOCBOOK_HTML, lg) for lg in ("de", "en", "es", "fr", "it", "pt")]
    + [Source(f"debian-faq-{lg}", DOCBOOK_HTML, lg) for lg in ("de", "fr", "it", "nl", "pt")]
    + [Source(f"maint-guide-{lg}", DOCBOOK_HTML, lg) for lg in ("de", "es", "fr", "it")]
)

# The held-out corpus: the same kinds of text from packages that neither `sample` nor `bench` uses,
# so that figures measured on it say how a rule tuned on `bench` does on text it has not seen.
HELDOUT_MAN_DEV = ["cs", "da", "de", "es", "fr", "it", "nl", "pl"]
HELDOUT_GIMP = ["cs", "da", "de", "el", "en", "es", "fi", "fr", "hu", "it", "nl", "pt", "sv"]
HELDOUT_L10N = ["cs", "da", "de", "el", "es", "fi", "fr", "hu", "it", "nl", "pl", "pt", "sv"]
HELDOUT_SOURCES: list[Source] = (
    [Source(f"manpages-{lg}-dev", MAN, lg) for lg in HELDOUT_MAN_DEV]
    + [Source("manpages-dev", MAN, "en"), Source("manpages-pt-br", MAN, "pt-br")]
    + [Source("libreoffice-help-pt-br", LOHELP, "pt")]
    + [Source(f"gimp-help-{lg}", GIMP, lg) for lg in HELDOUT_GIMP]
    + [
        Source(f"debian-edu-doc-{lg}", DOCBOOK_HTML, lg.split("-")[0])
        for lg in ("da", "de", "en", "es", "fr", "it", "nl", "pt-pt")
    ]
    + [Source(f"developers-reference-{lg}", DOCBOOK_HTML, lg) for lg in ("de", "fr", "it")]
    + [Source(f"aptitude-doc-{lg}", DOCBOOK_HTML, lg) for lg in ("cs", "en", "es", "fi", "fr", "it", "nl")]
    + [Source(f"libreoffice-l10n-{lg}", GETTEXT, lg) for lg in HELDOUT_L10N]
    + [
        Source(p, FORTUNE, lg)
        for p, lg in (("fortunes-es-off", "es"), ("fortunes-it-off", "it"), ("fortunes-min", "en"))
    ]
)
SOURCES = {"sample": SAMPLE_SOURCES, "bench": BENCH_SOURCES, "heldout": HELDOUT_SOURCES}

# Text budget per (package, declared language), in bytes of extracted text. Files are picked in
# a stable pseudo-random order (hash of the path) until the budget is spent, so a budget gives
# a varied subset rather than the first N files alphabetically.
BUDGET = {"sample": 100_000, "bench": 5_000_000, "heldout": 1_500_000}
MAX_DOC_CHARS = 30_000  # longer pages are split into chunks at paragraph breaks
SMALL_DOC_CHARS = 3_000  # fortunes and UI strings are grouped into documents of about this size


# ----------------------------------------------------------------------------- packages
def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def find_deb(cache: Path, package: str) -> Path | None:
    debs = sorted(cache.glob(f"{package}_*.deb"))
    return debs[-1] if debs else None


def download(cache: Path, package: str, offline: bool) -> Path | None:
    deb = find_deb(cache, package)
    if deb is not None:
        return deb
    if offline:
        log(f"  ! {package}: not in cache and --offline given; skipped")
        return None
    if shutil.which("apt-get") is None:
        log(f"  ! {package}: apt-get not found; skipped")
        return None
    proc = subprocess.run(["apt-get", "download", "-q", package], cwd=cache, capture_output=True, text=True)
    deb = find_deb(cache, package)
    if proc.returncode != 0 or deb is None:
        msg = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
        log(
            f"  ! {package}: apt-get download failed ({msg}); skipped "
            "(run 'apt-get update' first if the package lists are empty)"
        )
        return None
    return deb


def unpack(cache: Path, deb: Path) -> Path:
    dest = cache / "unpacked" / deb.stem
    marker = dest / ".unpacked"
    if not marker.exists():
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
        marker.write_text("ok\n")
    return dest


def deb_field(deb: Path, name: str) -> str:
    return subprocess.run(
        ["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True
    ).stdout.strip()


# For copyright files that are not machine-readable (DEP-5): phrases that name a licence.
_LICENCE_PHRASES = [
    (r"GNU (Library|Lesser) General Public License", "LGPL"),
    (r"GNU General Public License|GNU GPL\b", "GPL"),
    (r"GNU Free Documentation License", "GFDL"),
    (r"Mozilla Public License", "MPL"),
    (r"Apache License", "Apache"),
    (r"Creative Commons", "CC"),
    (r"\bBSD\b", "BSD"),
    (r"\bMIT\b", "MIT"),
    (r"(?i)public domain", "public domain"),
]


def licence_summary(root: Path, package: str) -> tuple[list[str], str]:
    """Short licence names from /usr/share/doc/<pkg>/copyright (DEP-5 or free text)."""
    copyright_file = root / "usr/share/doc" / package / "copyright"
    if copyright_file.is_symlink() or not copyright_file.exists():
        # Some packages link their doc dir to another package's.
        docdir = root / "usr/share/doc"
        cands = sorted(docdir.glob("*/copyright")) if docdir.exists() else []
        cands = [c for c in cands if not c.is_symlink()]
        if not cands:
            return [], ""
        copyright_file = cands[0]
    text = copyright_file.read_text(encoding="utf-8", errors="replace")
    names: list[str] = []
    for m in re.finditer(r"^License:[ \t]*(.+)$", text, flags=re.M):
        name = m.group(1).strip()
        if name and name not in names:
            names.append(name)
    if not names:  # free-text copyright file: name what it mentions
        names = [name for pat, name in _LICENCE_PHRASES if re.search(pat, text)]
        names = [f"{n} (free-text copyright)" for n in dict.fromkeys(names)]
    return names, str(copyright_file.relative_to(root))


# ----------------------------------------------------------------------------- extraction
class _HTMLText(html.parser.HTMLParser):
    SKIP = {
        "script",
        "style",
        "noscript",
        "head",
        "header",
        "nav",
        "aside",
        "footer",
        "button",
        "select",
        "template",
        "svg",
    }
    BLOCK = {
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "tr",
        "table",
        "pre",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "blockquote",
        "title",
        "hr",
        "td",
        "th",
        "caption",
        "figcaption",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.pre = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")
        if tag == "pre":
            self.pre += 1

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n")
        if tag == "pre":
            self.pre = max(0, self.pre - 1)

    def handle_data(self, data):
        if self.skip:
            return
        self.parts.append(data if self.pre else re.sub(r"\s+", " ", data))


def tidy(text: str) -> str:
    lines = [ln.rstrip() for ln in text.replace("\r", "").split("\n")]
    out = "\n".join(ln if ln.strip() else "" for ln in lines)
    out = re.sub(r"\n{3,}", "\n\n", out)
    return out.strip()


def html_to_text(data: bytes) -> tuple[str, str]:
    """Return (title, text) of an HTML page."""
    raw = data.decode("utf-8", errors="replace")
    m = re.search(r"<title[^>]*>(.*?)</title>", raw, flags=re.S | re.I)
    title = html.unescape(re.sub(r"\s+", " ", m.group(1))).strip() if m else ""
    p = _HTMLText()
    p.feed(raw)
    p.close()
    text = tidy("".join(re.sub(r"[ \t]+", " ", s) if s != "\n" else s for s in p.parts))
    text = "\n".join(ln.strip() for ln in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if title and not text.startswith(title):
        text = f"{title}\n\n{text}"
    return title, text


MALLARD_NS = "{http://projectmallard.org/1.0/}"
_MALLARD_BLOCK = {"title", "p", "item", "td", "th", "code", "screen", "desc", "subtitle"}


def mallard_to_text(data: bytes) -> str:
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return ""
    out: list[str] = []

    def walk(el, in_block=False):
        tag = el.tag.replace(MALLARD_NS, "") if isinstance(el.tag, str) else ""
        if tag == "info":  # revision history, credits and translator e-mails
            return
        if tag in _MALLARD_BLOCK and not in_block:
            txt = re.sub(r"\s+", " ", "".join(el.itertext())).strip()
            if tag in ("code", "screen"):
                txt = "".join(el.itertext()).strip()
            if txt:
                out.append(txt)
            return
        for child in el:
            walk(child, in_block)

    walk(root)
    return "\n\n".join(out)


def render_man(path: Path) -> str:
    """Render a (possibly gzipped) man page to plain UTF-8 text with groff."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    head = data.lstrip()[:200]
    if head.startswith(b".so ") and data.count(b"\n") <= 3:
        return ""  # alias page pointing at another page
    if shutil.which("groff") is None:
        return strip_roff(data.decode("utf-8", errors="replace"))
    proc = subprocess.run(
        ["groff", "-k", "-Tutf8", "-mandoc", "-P-cbou", "-rLL=78n", "-rHY=0"],
        input=data,
        capture_output=True,
        env={**os.environ, "LC_ALL": "C.UTF-8"},
    )
    text = proc.stdout.decode("utf-8", errors="replace")
    # collapse the extra spaces of justified lines, keep the indentation
    text = "\n".join(re.sub(r"(?<=\S) {2,}(?=\S)", " ", ln) for ln in text.split("\n"))
    return tidy(text)


def strip_roff(src: str) -> str:
    """Crude roff-to-text fallback used when groff is missing."""
    out = []
    for line in src.split("\n"):
        if line.startswith(('.\\"', "'\\\"")):
            continue
        if line.startswith((".", "'")):
            m = re.match(r"[.'](SH|SS|B|I|BR|IR|RB|RI|BI|IB|TP|IP|PP|P|LP|TH)\b\s*(.*)", line)
            if not m:
                continue
            macro, rest = m.groups()
            if macro in ("TP", "IP", "PP", "P", "LP"):
                out.append("")
                rest = rest.split('"')[1] if macro == "IP" and '"' in rest else ""
            if macro == "TH":
                continue
            line = rest.replace('"', "")
        line = re.sub(r"\\f[BIRP]|\\f\(..|\\f\[[^]]*\]", "", line)
        line = line.replace("\\-", "-").replace("\\(em", "—").replace("\\(en", "–")
        line = re.sub(r"\\\(..|\\\[[^]]*\]|\\[&|^~ ]", "", line)
        out.append(line.replace("\\e", "\\"))
    return tidy("\n".join(out))


def split_fortunes(text: str) -> list[str]:
    return [f.strip("\n") for f in re.split(r"^%\s*$", text, flags=re.M) if f.strip()]


def read_mo(path: Path) -> list[str]:
    with open(path, "rb") as fh:
        try:
            cat = gettext.GNUTranslations(fh)._catalog  # noqa: SLF001 (stdlib parser)
        except Exception:
            return []
    out = []
    for key in sorted(cat, key=lambda k: k if isinstance(k, str) else k[0]):
        if key == "":  # header
            continue
        val = cat[key].strip()
        if val:
            out.append(val)
    return out


def read_mozilla_langpack(path: Path) -> list[str]:
    """UI strings of a Firefox/Thunderbird language pack (.xpi: Fluent .ftl, .properties)."""
    out: list[str] = []
    with zipfile.ZipFile(path) as zf:
        for name in sorted(zf.namelist()):
            if not name.endswith((".ftl", ".properties")):
                continue
            for line in zf.read(name).decode("utf-8", errors="replace").splitlines():
                if not line.strip() or line.lstrip().startswith(("#", "!")):
                    continue
                m = re.match(r"^\s*\.?-?[\w.@-]+\s*=\s*(.*)$", line)
                val = m.group(1) if m else line.strip()
                if m is None and (val[:1] in "[*}" or val.startswith("{")):
                    continue  # Fluent selectors and variant syntax
                if val.strip():
                    out.append(val.strip())
    return out


def group(items: list[str], size: int, sep: str) -> list[str]:
    chunks, cur, n = [], [], 0
    for it in items:
        if cur and n + len(it) > size:
            chunks.append(sep.join(cur))
            cur, n = [], 0
        cur.append(it)
        n += len(it) + len(sep)
    if cur:
        chunks.append(sep.join(cur))
    return chunks


def split_long(text: str, limit: int = MAX_DOC_CHARS) -> list[str]:
    if len(text) <= limit:
        return [text]
    return group(text.split("\n\n"), limit, "\n\n")


# ----------------------------------------------------------------------------- file walking
LANG_FROM_LOCALE = {"pt_BR": "pt-BR", "C": "en", "sr@latin": "sr-Latn", "zh_CN": "zh-CN"}


def norm_lang(code: str) -> str:
    return LANG_FROM_LOCALE.get(code, code.replace("_", "-"))


def base_lang(code: str) -> str:
    return code.split("-")[0].lower()


@dataclass
class Item:
    relpath: str  # path inside the package (the document url)
    lang: str  # declared language
    path: Path  # file on disk


def list_items(src: Source, root: Path) -> list[Item]:
    items: list[Item] = []

    def add(p: Path, lang: str) -> None:
        if p.is_file() and not p.is_symlink():
            items.append(Item("/" + str(p.relative_to(root)), lang, p))

    if src.kind == MAN:
        base = root / "usr/share/man"
        # "pt-br" pages live in man/pt_BR/
        code, _, region = src.lang.partition("-")
        mandir = f"{code}_{region.upper()}" if region else code
        pattern = "man[0-9]*/*" if src.lang == "en" else f"{mandir}/man[0-9]*/*"
        for p in base.glob(pattern):
            add(p, src.lang)
    elif src.kind == LOHELP:
        for p in (root / "usr/share/libreoffice/help").rglob("*.html"):
            add(p, src.lang)
    elif src.kind == GIMP:
        for p in (root / "usr/share/gimp/2.0/help").rglob("*.html"):
            add(p, src.lang)
    elif src.kind == MALLARD:
        for p in (root / "usr/share/help").glob("*/*/*.page"):
            add(p, norm_lang(p.parts[-3]))
    elif src.kind == DOCBOOK_HTML and src.lang is not None:
        for p in (root / "usr/share").rglob("*.html"):
            add(p, src.lang)
    elif src.kind == DOCBOOK_HTML:  # multi-language doc: usr/share/doc/<pkg>/<lang>/...
        for p in (root / "usr/share/doc").rglob("*.html"):
            rel = p.relative_to(root / "usr/share/doc").parts
            add(p, norm_lang(rel[1]) if len(rel) > 2 else "en")
    elif src.kind == FORTUNE:
        for p in (root / "usr/share/games/fortunes").rglob("*"):
            if p.suffix in (".dat", ".u8") or p.name.endswith(".dat"):
                continue
            add(p, src.lang)
    elif src.kind == GETTEXT:
        for p in root.rglob("*.mo"):
            add(p, src.lang)
    elif src.kind == MOZILLA:
        for p in root.rglob("*.xpi"):
            add(p, src.lang)
    items.sort(key=lambda it: it.relpath)
    return items


def extract(src: Source, item: Item) -> list[str]:
    """Texts (before chunking) of one file."""
    if src.kind == MAN:
        return [render_man(item.path)]
    if src.kind in (LOHELP, GIMP, DOCBOOK_HTML):
        return [html_to_text(item.path.read_bytes())[1]]
    if src.kind == MALLARD:
        return [mallard_to_text(item.path.read_bytes())]
    if src.kind == FORTUNE:
        raw = item.path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        return group(split_fortunes(text), SMALL_DOC_CHARS, "\n\n")
    if src.kind == GETTEXT:
        return group(read_mo(item.path), SMALL_DOC_CHARS, "\n")
    if src.kind == MOZILLA:
        return group(read_mozilla_langpack(item.path), SMALL_DOC_CHARS, "\n")
    raise ValueError(src.kind)


def doc_id(package: str, relpath: str, chunk: int) -> str:
    return hashlib.sha1(f"{package}\0{relpath}\0{chunk}".encode()).hexdigest()[:20]


def stable_order(items: list[Item], seed: int = 0) -> list[Item]:
    """Items in a pseudo-random order fixed by `seed` (0: the order every earlier build used)."""
    salt = f"{seed}\0".encode() if seed else b""
    return sorted(items, key=lambda it: hashlib.sha1(salt + it.relpath.encode()).hexdigest())


# ----------------------------------------------------------------------------- build
@dataclass
class PackageResult:
    package: str
    version: str
    licences: list[str]
    copyright_path: str
    docs: list[dict] = field(default_factory=list)


def build_package(
    src: Source,
    deb: Path,
    cache: Path,
    budget: int,
    langs: set[str],
    pool: concurrent.futures.Executor,
    seed: int = 0,
) -> PackageResult:
    root = unpack(cache, deb)
    version = deb_field(deb, "Version")
    lic, cpath = licence_summary(root, src.package)
    res = PackageResult(src.package, version, lic, cpath)
    items = [it for it in list_items(src, root) if base_lang(it.lang) in langs]
    by_lang: dict[str, list[Item]] = {}
    for it in items:
        by_lang.setdefault(it.lang, []).append(it)
    for lang in sorted(by_lang):
        spent = 0
        chosen: list[tuple[Item, list[str]]] = []
        order = stable_order(by_lang[lang], seed)
        # extract in batches (groff is a subprocess per page) until the budget is spent
        batch = 32
        for start in range(0, len(order), batch):
            part = order[start : start + batch]
            for it, texts in zip(part, pool.map(lambda i: extract(src, i), part), strict=True):
                kept = []
                for t in texts:  # grouped files (fortunes, .mo) can be large: cut by chunk
                    if t.strip() and spent < budget:
                        kept.append(t)
                        spent += len(t.encode())
                if kept:
                    chosen.append((it, kept))
                if spent >= budget:
                    break
            if spent >= budget:
                break
        chosen.sort(key=lambda x: x[0].relpath)
        for it, texts in chosen:
            chunks = [c for t in texts for c in split_long(t)]
            for n, chunk in enumerate(chunks):
                res.docs.append(
                    {
                        "id": doc_id(src.package, it.relpath, n),
                        "text": chunk,
                        "source": src.package,
                        "url": it.relpath if len(chunks) == 1 else f"{it.relpath}#{n}",
                        "meta": {"package_version": version, "declared_lang": lang, "kind": src.kind},
                    }
                )
    return res


def write_jsonl(path: Path, docs: list[dict], compress: bool) -> int:
    data = "".join(json.dumps(d, ensure_ascii=False, sort_keys=True) + "\n" for d in docs)
    raw = data.encode("utf-8")
    tmp = path.with_name(path.name + ".tmp")
    if compress:
        # mtime=0 and no file name: byte-identical output on every run
        with (
            open(tmp, "wb") as fh,
            gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz,
        ):
            gz.write(raw)
    else:
        tmp.write_bytes(raw)
    tmp.replace(path)
    return len(raw)


def write_licenses(
    out: Path, results: list[PackageResult], size: str, missing: list[str], seed: int = 0
) -> None:
    seed_arg = f" --seed {seed}" if seed else ""
    lines = [
        "# Licences of the text in this corpus",
        "",
        f"Built by `scripts/corpus/build_corpus.py --size {size}{seed_arg}` from Debian 12 (bookworm) "
        "packages. Each document's `source` is the Debian package below and its `url` the path "
        "of the page inside that package. The full copyright statement of each package is the "
        "file named in the last column, inside the package (also at "
        "`/usr/share/doc/<package>/copyright` on any Debian system, and at "
        "https://metadata.ftp-master.debian.org/changelogs/).",
        "",
        "| package | version | licences (from the copyright file) | copyright file | documents |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in sorted(results, key=lambda r: r.package):
        lic = ", ".join(r.licences) if r.licences else "see copyright file"
        lines.append(f"| {r.package} | {r.version} | {lic} | {r.copyright_path or '-'} | {len(r.docs)} |")
    if missing:
        lines += ["", "Packages requested but not available (skipped): " + ", ".join(missing)]
    lines.append("")
    (out / "LICENSES.md").write_text("\n".join(lines), encoding="utf-8")


HTML_SAMPLE_LANGS = ("de", "en-gb", "es", "fi", "fr", "it", "pl", "sv")
HTML_SAMPLE_PAGES = 6


def write_html_sample(out: Path, cache: Path, offline: bool) -> int:
    """Copy the same few LibreOffice help pages, raw HTML, in several languages to out/html/.

    Parallel translations of one page are what a crawl of a multilingual site looks like; the
    test helper ``tests/helpers/warc.py`` turns them into a WARC for the HTML readers.
    """
    roots = {}
    for lang in HTML_SAMPLE_LANGS:
        deb = download(cache, f"libreoffice-help-{lang}", offline)
        if deb is not None:
            helpdir = unpack(cache, deb) / "usr/share/libreoffice/help"
            dirs = [d for d in sorted(helpdir.iterdir()) if d.is_dir() and d.name != "media"]
            if dirs:  # en-gb is shipped as en-GB
                roots[dirs[0].name] = dirs[0]
    if not roots:
        return 0
    common = None
    for root in roots.values():
        rel = {
            p.relative_to(root).as_posix()
            for p in root.rglob("*.html")
            if 6_000 <= p.stat().st_size <= 16_000 and p.parts[-2] != "05"
        }
        common = rel if common is None else common & rel
    pick = sorted(common, key=lambda r: hashlib.sha1(r.encode()).hexdigest())[:HTML_SAMPLE_PAGES]
    dest = out / "html"
    if dest.exists():
        shutil.rmtree(dest)
    total = 0
    for lang, root in sorted(roots.items()):
        for rel in sorted(pick):
            target = dest / lang / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            data = (root / rel).read_bytes()
            target.write_bytes(data)
            total += len(data)
    log(f"html sample: {len(pick)} pages x {len(roots)} languages, {total / 1e3:.0f} KB in {dest}")
    return total


def langid_report(results: list[PackageResult]) -> None:
    """Print, per declared language, which share of documents heliport agrees with."""
    try:
        from heliport import Identifier
    except ImportError:
        log("heliport not installed: no language-ID report")
        return
    ident = Identifier()
    agree: dict[str, list[int]] = {}
    for r in results:
        for d in r.docs:
            dl = base_lang(d["meta"]["declared_lang"])
            got = ISO3_TO_ISO1.get(ident.identify(d["text"][:2000].replace("\n", " ")), "?")
            a = agree.setdefault(dl, [0, 0])
            a[0] += got == dl
            a[1] += 1
    log(
        "heliport agrees with the declared language: "
        + " ".join(f"{k}={a[0] / a[1]:.0%}" for k, a in sorted(agree.items()))
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--size",
        choices=list(SOURCES),
        default="sample",
        help="sample (~3 MB), bench (~150 MB) or heldout (~60 MB from packages the others do not use)",
    )
    ap.add_argument("--output", type=Path, default=None, help="output directory (default data/<size>)")
    ap.add_argument(
        "--cache",
        type=Path,
        default=Path("data/.deb-cache"),
        help="where downloaded .deb files and their unpacked trees are kept",
    )
    ap.add_argument(
        "--budget",
        type=int,
        default=None,
        help="bytes of text per (package, declared language); default by --size",
    )
    ap.add_argument(
        "--compress",
        choices=["gz", "none"],
        default=None,
        help="gzip the jsonl files (default: gz for sample, none for bench)",
    )
    ap.add_argument(
        "--langs",
        default=",".join(EU_LANGUAGES),
        help="declared languages to keep (ISO 639-1, comma separated)",
    )
    ap.add_argument(
        "--packages", default=None, help="only these packages (comma separated) of the chosen size"
    )
    ap.add_argument(
        "--seed",
        type=int,
        default=0,
        help="order in which files are picked within a budget (0: the default order); another "
        "seed gives another sample of the same packages",
    )
    ap.add_argument("--offline", action="store_true", help="never call apt-get; use the cache")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument(
        "--html",
        choices=["yes", "no"],
        default=None,
        help="also copy raw LibreOffice help HTML to OUTPUT/html (default: sample only)",
    )
    ap.add_argument(
        "--langid-report",
        action="store_true",
        help="print how often heliport agrees with the declared language",
    )
    args = ap.parse_args(argv)

    t0 = time.time()
    out: Path = args.output or Path("data") / args.size
    out.mkdir(parents=True, exist_ok=True)
    cache: Path = args.cache
    cache.mkdir(parents=True, exist_ok=True)
    budget = args.budget or BUDGET[args.size]
    compress = (args.compress or ("gz" if args.size == "sample" else "none")) == "gz"
    langs = {x.strip() for x in args.langs.split(",") if x.strip()}
    sources = SOURCES[args.size]
    if args.packages:
        wanted = set(args.packages.split(","))
        sources = [s for s in sources if s.package in wanted]

    results: list[PackageResult] = []
    missing: list[str] = []
    suffix = ".jsonl.gz" if compress else ".jsonl"
    for stale in list(out.glob("*.jsonl")) + list(out.glob("*.jsonl.gz")):
        stale.unlink()
    total_bytes = 0
    lang_bytes: dict[str, int] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for i, src in enumerate(sources, 1):
            deb = download(cache, src.package, args.offline)
            if deb is None:
                missing.append(src.package)
                continue
            res = build_package(src, deb, cache, budget, langs, pool, args.seed)
            if not res.docs:
                log(f"[{i}/{len(sources)}] {src.package}: no documents")
                missing.append(src.package)
                continue
            n = write_jsonl(out / f"{src.package}{suffix}", res.docs, compress)
            total_bytes += n
            for d in res.docs:
                lg = base_lang(d["meta"]["declared_lang"])
                lang_bytes[lg] = lang_bytes.get(lg, 0) + len(d["text"].encode())
            results.append(res)
            log(
                f"[{i}/{len(sources)}] {src.package} {res.version}: {len(res.docs)} docs, "
                f"{n / 1e6:.2f} MB ({time.time() - t0:.0f}s)"
            )
    if (args.html or ("yes" if args.size == "sample" and not args.packages else "no")) == "yes":
        write_html_sample(out, cache, args.offline)
    write_licenses(out, results, args.size, missing, args.seed)
    if args.langid_report:
        langid_report(results)
    ndocs = sum(len(r.docs) for r in results)
    per_lang = " ".join(f"{k}={v / 1e6:.2f}" for k, v in sorted(lang_bytes.items()))
    log(f"text MB per declared language: {per_lang}")
    print(
        f"built {len(results)} files, {ndocs} docs, {total_bytes / 1e6:.1f} MB of jsonl, "
        f"{len(lang_bytes)} declared languages ({','.join(sorted(lang_bytes))}) "
        f"in {out} in {time.time() - t0:.0f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
