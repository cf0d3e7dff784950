"""WARC files from real HTML, for testing the data-prep readers offline.

``write_warc`` writes response records (with HTTP headers) using warcio's ``WARCWriter``;
``sample_html_pages`` returns the real, translated LibreOffice help pages committed under
``data/sample/html/<lang>/...`` together with the URL each page has on the LibreOffice help site.

    from tests.helpers.warc import sample_html_pages, write_warc
    write_warc(tmp_path / "sample.warc.gz", sample_html_pages())
"""

from __future__ import annotations

from email.utils import formatdate
from io import BytesIO
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_HTML_DIR = REPO_ROOT / "data" / "sample" / "html"
# Where the committed pages live on the web (LibreOffice 7.4 help); used as record URLs only.
HELP_URL_BASE = "https://help.libreoffice.org/7.4/"


def write_warc(
    path, records, gzip: bool = True, *, date: str = "2024-01-01T00:00:00Z", warcinfo: bool = True
) -> Path:
    """Write ``records`` (a list of ``(url, html_bytes)`` or ``(url, html_bytes, extra_headers)``,
    extra headers as ``(name, value)`` pairs) as WARC response records.

    Each record carries an HTTP/1.1 200 response with ``Content-Type: text/html;
    charset=utf-8`` and ``Content-Length`` headers, as a crawler would store it. The WARC date
    is fixed (``date``) so the file is reproducible apart from the record ids warcio makes.
    Returns ``path``.
    """
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    http_date = formatdate(1704067200, usegmt=True)  # matches the default WARC-Date
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gzip)
        if warcinfo:
            info = writer.create_warcinfo_record(
                path.name, {"software": "llm-train tests/helpers/warc.py", "format": "WARC File Format 1.0"}
            )
            info.rec_headers.replace_header("WARC-Date", date)
            writer.write_record(info)
        for url, body, *extra in records:
            if isinstance(body, str):
                body = body.encode("utf-8")
            http_headers = StatusAndHeaders(
                "200 OK",
                [
                    ("Content-Type", "text/html; charset=utf-8"),
                    ("Content-Length", str(len(body))),
                    ("Date", http_date),
                    *(extra[0] if extra else []),
                ],
                protocol="HTTP/1.1",
            )
            rec = writer.create_warc_record(
                url,
                "response",
                payload=BytesIO(body),
                length=len(body),
                http_headers=http_headers,
                warc_headers_dict={"WARC-Date": date},
            )
            writer.write_record(rec)
    return path


def read_warc(path) -> list[tuple[str, bytes]]:
    """``(url, payload)`` of every response record of a WARC (gzipped or not)."""
    from warcio.archiveiterator import ArchiveIterator

    out = []
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type == "response":
                out.append((rec.rec_headers.get_header("WARC-Target-URI"), rec.content_stream().read()))
    return out


def sample_html_pages(langs=None, root: Path | None = None) -> list[tuple[str, bytes]]:
    """Real LibreOffice help pages from ``data/sample/html/<lang>/``, sorted by path.

    Returns a list of ``(url, html_bytes)``; ``langs`` (e.g. ``{"de", "fr"}``) keeps only those
    language directories (the directory name is the declared language: the page may still
    contain untranslated English).
    """
    root = Path(root) if root is not None else SAMPLE_HTML_DIR
    pages = []
    for p in sorted(root.rglob("*.html")):
        rel = p.relative_to(root)
        if langs is not None and rel.parts[0] not in langs:
            continue
        pages.append((HELP_URL_BASE + rel.as_posix(), p.read_bytes()))
    return pages
