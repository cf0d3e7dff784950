"""Parquet shards, read in record batches so memory is bounded by the batch, not the file."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow.parquet as pq

from data_prep.document import Document
from data_prep.readers.base import Reader, ReadResult, check_text, file_stem, make_document

BATCH_ROWS = 1024


class ParquetReader(Reader):
    name = "parquet"

    def _read(self, path: str, result: ReadResult) -> Iterator[Document]:
        opts = self.opts
        default_source = file_stem(path)
        with pq.ParquetFile(path) as pf:
            if opts.text_field not in pf.schema_arrow.names:
                # Every row lacks the text: count them all rather than fail the run.
                for row in range(pf.metadata.num_rows):
                    result.reject("missing_text", f"{path}:row {row}")
                return
            wanted = [
                n for n in pf.schema_arrow.names if n in _COLUMNS or n in (opts.text_field, opts.id_field)
            ]
            row = 0
            for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=wanted):
                for record in batch.to_pylist():
                    where = f"{path}:row {row}"
                    text = record.get(opts.text_field)
                    if isinstance(text, bytes):
                        try:
                            text = text.decode("utf-8")
                        except UnicodeDecodeError:
                            result.reject("invalid_utf8", where, len(text))
                            row += 1
                            continue
                    reason, nbytes = check_text(text, opts)
                    if reason:
                        result.reject(reason, where, nbytes)
                    else:
                        doc = make_document(record, text, path, {"row": row}, opts, default_source)
                        result.accept(doc, nbytes)
                        yield doc
                    row += 1


_COLUMNS = ("id", "lang", "source", "url", "meta")
