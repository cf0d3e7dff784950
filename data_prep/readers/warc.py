"""Web archives (WARC / WARC.gz): HTML responses, main text extracted with trafilatura.

The record's WARC-Record-ID becomes the document id and its byte offset in the archive the
provenance; records that are not HTML responses (warcinfo, requests, images) are passed over.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from data_prep.document import Document
from data_prep.readers.base import Reader, ReadResult, check_text, file_stem, make_document

log = logging.getLogger(__name__)

_HTML_TYPES = ("text/html", "application/xhtml+xml")


class WarcReader(Reader):
    name = "warc"

    def __init__(self, opts):
        super().__init__(opts)
        # Imported here so the other readers work without the HTML stack being importable.
        import trafilatura
        from warcio.archiveiterator import ArchiveIterator

        self._extract = trafilatura.extract
        self._iterator = ArchiveIterator

    def _read(self, path: str, result: ReadResult) -> Iterator[Document]:
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
                    "meta": {"warc_date": record.rec_headers.get_header("WARC-Date")},
                }
                doc = make_document(fields, text, path, {"offset": offset}, opts, default_source)
                result.accept(doc, nbytes)
                yield doc
