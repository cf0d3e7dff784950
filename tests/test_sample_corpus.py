"""The committed sample corpus (data/sample/) and the WARC test helper."""

from __future__ import annotations

import collections
import gzip
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from data_prep.languages import EU_LANGUAGES, ISO3_TO_ISO1

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.helpers.warc import read_warc, sample_html_pages, write_warc  # noqa: E402

SAMPLE = ROOT / "data" / "sample"
EU_LANGS = set(EU_LANGUAGES)
MIN_LANGS = 12  # EU languages with at least MIN_LANG_BYTES of text
MIN_LANG_BYTES = 100_000
MAX_COMPRESSED = 8 * 1024 * 1024


def sample_files() -> list[Path]:
    return sorted(SAMPLE.glob("*.jsonl.gz"))


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    out = []
    for f in sample_files():
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                d = json.loads(line)
                d["_file"] = f.name
                d["_line"] = n
                out.append(d)
    return out


def base(lang: str) -> str:
    return lang.split("-")[0].lower()


def test_sample_files_exist():
    assert SAMPLE.is_dir()
    assert (SAMPLE / "LICENSES.md").is_file()
    assert (SAMPLE / "README.md").is_file()
    assert len(sample_files()) >= 10


def test_sample_size_limits():
    total = sum(f.stat().st_size for f in SAMPLE.rglob("*") if f.is_file())
    assert total < MAX_COMPRESSED, f"data/sample is {total / 1e6:.1f} MB"
    assert sum(f.stat().st_size for f in sample_files()) > 1_000_000


def test_documents_follow_the_contract(docs):
    ids = collections.Counter(d["id"] for d in docs)
    dup = [i for i, c in ids.items() if c > 1]
    assert not dup, f"duplicate ids: {dup[:5]}"
    for d in docs:
        where = f"{d['_file']}:{d['_line']}"
        assert isinstance(d["id"], str) and d["id"], where
        assert isinstance(d["text"], str) and d["text"].strip(), where
        assert d["source"] + ".jsonl.gz" == d["_file"], where
        assert isinstance(d["url"], str) and d["url"].startswith("/"), where
        meta = d["meta"]
        assert meta["package_version"] and meta["declared_lang"], where
        assert "lang" not in d, f"{where}: lang is set by the pipeline's language ID"


def test_languages_have_enough_text(docs):
    per_lang = collections.Counter()
    for d in docs:
        per_lang[base(d["meta"]["declared_lang"])] += len(d["text"].encode("utf-8"))
    assert set(per_lang) <= EU_LANGS, set(per_lang) - EU_LANGS
    rich = sorted(lang for lang, n in per_lang.items() if n >= MIN_LANG_BYTES)
    assert len(rich) >= MIN_LANGS, f"only {rich} have >= {MIN_LANG_BYTES} bytes"


def test_readme_documents_the_languages(docs):
    readme = (SAMPLE / "README.md").read_text(encoding="utf-8")
    assert "build_corpus.py --size sample" in readme
    declared = {base(d["meta"]["declared_lang"]) for d in docs}
    for lang in declared:
        assert re.search(rf"\|\s*{lang}\s*\|", readme), f"{lang} missing from README table"


def test_licenses_list_every_package(docs):
    licenses = (SAMPLE / "LICENSES.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\|\s*([a-z0-9][a-z0-9.+-]+)\s*\|", licenses, flags=re.M))
    used = {d["source"] for d in docs}
    assert used <= listed, f"not in LICENSES.md: {sorted(used - listed)}"
    versions = {(d["source"], d["meta"]["package_version"]) for d in docs}
    for pkg, ver in versions:
        assert f"| {pkg} | {ver} |" in licenses, (pkg, ver)


def test_language_id_agrees_with_declared_language(docs):
    """heliport finds the declared languages in bulk, and the realistic mess is still there."""
    heliport = pytest.importorskip("heliport")
    ident = heliport.Identifier()
    agreed_bytes = collections.Counter()
    agreed_docs = collections.Counter()
    english_in_translations = 0
    for d in docs:
        lang = base(d["meta"]["declared_lang"])
        got = ISO3_TO_ISO1.get(ident.identify(d["text"][:2000].replace("\n", " ")), "other")
        if got == lang:
            agreed_bytes[lang] += len(d["text"].encode("utf-8"))
            agreed_docs[lang] += 1
        elif got == "en":
            english_in_translations += 1
    declared = {base(d["meta"]["declared_lang"]) for d in docs}
    rich = sorted(lang for lang in declared if agreed_bytes[lang] >= MIN_LANG_BYTES // 2)
    assert len(rich) >= MIN_LANGS, dict(agreed_bytes)
    assert all(agreed_docs[lang] >= 5 for lang in declared), dict(agreed_docs)
    # untranslated English pages in translated packages: kept on purpose for language ID tests
    assert english_in_translations >= 50


def test_sample_html_pages():
    pages = sample_html_pages()
    langs = {url.split("/")[4] for url, _ in pages}
    assert len(langs) >= 4, langs
    assert 50_000 < sum(len(b) for _, b in pages) < 1_000_000
    for url, body in pages:
        assert url.startswith("https://") and url.endswith(".html")
        assert b"<html" in body[:500].lower()
    assert sample_html_pages(langs={"de"}) and all(
        "/de/" in url for url, _ in sample_html_pages(langs={"de"})
    )


@pytest.mark.parametrize("gz", [True, False])
def test_write_warc_round_trip(tmp_path, gz):
    from warcio.archiveiterator import ArchiveIterator

    pages = sample_html_pages()
    path = write_warc(tmp_path / ("s.warc.gz" if gz else "s.warc"), pages, gzip=gz)
    assert read_warc(path) == pages
    with open(path, "rb") as fh:
        if gz:
            assert fh.read(2) == b"\x1f\x8b"
            fh.seek(0)
        types = []
        for rec in ArchiveIterator(fh):
            types.append(rec.rec_type)
            if rec.rec_type == "response":
                assert rec.http_headers.get_statuscode() == "200"
                assert rec.http_headers.get_header("Content-Type").startswith("text/html")
    assert types[0] == "warcinfo" and types.count("response") == len(pages)


def _load_builder():
    path = ROOT / "scripts" / "corpus" / "build_corpus.py"
    spec = importlib.util.spec_from_file_location("build_corpus", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look the module up while the class is built
    spec.loader.exec_module(mod)
    return mod


def test_builder_extractors():
    b = _load_builder()
    title, text = b.html_to_text(
        b"<html><head><title>T\xc3\xadtulo</title><script>x()</script></head><body>"
        b"<header>menu</header><h1>T\xc3\xadtulo</h1><p>Un  p\xc3\xa1rrafo\n de texto.</p>"
        b"<aside>index</aside><p>Otro.</p></body></html>"
    )
    assert title == "Título"
    assert text == "Título\n\nUn párrafo de texto.\n\nOtro."
    assert b.split_fortunes("a\nb\n%\nc\n%\n") == ["a\nb", "c"]
    assert "Aufruf" in b.strip_roff(".TH X 1\n.SH NAME\n\\fBx\\fR \\- Aufruf\n")
    assert b.doc_id("p", "/a", 0) == b.doc_id("p", "/a", 0) != b.doc_id("p", "/a", 1)
    parts = b.split_long("a" * 10 + "\n\n" + "b" * 10, limit=12)
    assert parts == ["a" * 10, "b" * 10]
