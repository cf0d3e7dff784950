"""Web archives (WARC / WARC.gz): HTML responses, main text extracted with trafilatura.

The record's WARC-Record-ID becomes the document id and its byte offset in the archive the
provenance; records that are not HTML responses (warcinfo, requests, images) are passed over.

What a text-and-data-mining reservation (DSM Art. 4(3)) can be read from is kept in `meta`, so a
later step can honour it without the archive:
    meta.warc_date     the record's WARC-Date
    meta.http_headers  the response headers that carry reservations, lower-cased names:
                       `tdm-reservation`, `tdm-policy` (TDMRep), `x-robots-tag`, `link`
                       (a `rel="tdm-policy"` link); repeated headers joined with ", "
    meta.html_meta     `<meta name=... content=...>` of the page for the names `robots`,
                       `tdm-reservation`, `tdm-policy` and any `*bot` (googlebot, ccbot, gptbot),
                       lower-cased names; repeated names joined with ", "
Both dicts are always present on WARC documents (empty when the page says nothing).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator

from data_prep.document import Document
from data_prep.readers.base import Reader, ReadResult, check_text, file_stem, make_document

log = logging.getLogger(__name__)

_HTML_TYPES = ("text/html", "application/xhtml+xml")
TDM_HEADERS = ("tdm-reservation", "tdm-policy", "x-robots-tag", "link")
TDM_META_NAMES = ("robots", "tdm-reservation", "tdm-policy")
# <meta> tags live in the head; a page's first 256 KiB hold it even on bloated sites.
_HEAD_BYTES = 256 * 1024
_META_TAG = re.compile(rb"<meta\b[^>]*>", re.IGNORECASE)
_ATTRIBUTE = re.compile(rb"""([a-zA-Z_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")


class WarcReader(Reader):
    name = "warc"

    def __init__(self, opts):
        super().__init__(opts)
        # Imported here so the other readers work without the HTML stack being importable.
        import trafilatura
        from warcio.archiveiterator import ArchiveIterator
        from warcio.exceptions import ArchiveLoadFailed

        self._extract = trafilatura.extract
        self._iterator = ArchiveIterator
        self._load_failed = ArchiveLoadFailed

    def _read(self, path: str, result: ReadResult) -> Iterator[Document]:
        try:
            yield from self._records(path, result)
        except self._load_failed as exc:
            # A corrupt record: warcio cannot find the next one, so (like a truncated gzip) the rest
            # of the file is counted as `corrupt_file`; the message without the record's bytes.
            raise ValueError(f"invalid WARC record ({str(exc).split(':', 1)[0]})") from None

    def _records(self, path: str, result: ReadResult) -> Iterator[Document]:
        opts = self.opts
        default_source = file_stem(path)
        with open(path, "rb") as fh:
            records = self._iterator(fh)
            for record in records:
                if record.rec_type not in ("response", "resource"):
                    continue
                headers = record.http_headers
                ctype = (headers.get_header("Content-Type") if headers else None) or (
                    record.rec_headers.get_header("Content-Type") or ""
                )
                if not ctype.lower().startswith(_HTML_TYPES):
                    continue
                payload = record.content_stream().read(opts.max_doc_bytes * 4 + 1)
                offset = records.get_record_offset()
                where = f"{path}@{offset}"
                if len(payload) > opts.max_doc_bytes * 4:
                    result.reject("too_large", where, len(payload))
                    continue
                text = self._extract(payload, include_comments=False, include_tables=True, deduplicate=False)
                reason, nbytes = check_text(text, opts)
                if reason:
                    # trafilatura returns None when it finds no main text.
                    result.reject("empty_text" if reason == "missing_text" else reason, where, len(payload))
                    continue
                rec_id = (record.rec_headers.get_header("WARC-Record-ID") or "").strip("<>")
                fields = {
                    opts.id_field: rec_id.removeprefix("urn:uuid:") or None,
                    "url": record.rec_headers.get_header("WARC-Target-URI"),
                    "meta": {
                        "warc_date": record.rec_headers.get_header("WARC-Date"),
                        "http_headers": tdm_headers(headers.headers if headers else []),
                        "html_meta": html_meta(payload),
                    },
                }
                doc = make_document(fields, text, path, {"offset": offset}, opts, default_source)
                result.accept(doc, nbytes)
                yield doc


def _join(found: dict[str, str], name: str, value: str) -> None:
    value = value.strip()
    found[name] = f"{found[name]}, {value}" if name in found else value


def tdm_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    """The reservation-carrying response headers, lower-cased names, repeats joined."""
    found: dict[str, str] = {}
    for name, value in headers:
        if name.lower() in TDM_HEADERS:
            _join(found, name.lower(), value)
    return found


def html_meta(payload: bytes) -> dict[str, str]:
    """`<meta name=... content=...>` values about robots and TDM of an HTML page."""
    found: dict[str, str] = {}
    for tag in _META_TAG.findall(payload[:_HEAD_BYTES]):
        attrs = {key.lower(): dq or sq or bare for key, dq, sq, bare in _ATTRIBUTE.findall(tag)}
        name = attrs.get(b"name", b"").decode("utf-8", "replace").strip().lower()
        if name in TDM_META_NAMES or name.endswith("bot"):
            content = html.unescape(attrs.get(b"content", b"").decode("utf-8", "replace"))
            _join(found, name, content)
    return found
