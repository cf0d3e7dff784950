"""A directory of .txt files is one shard; each file is one document (sorted by path)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from data_prep.document import Document
from data_prep.readers.base import Reader, ReadResult, check_text, make_document


class TextDirReader(Reader):
    name = "txt"

    def _read(self, path: str, result: ReadResult) -> Iterator[Document]:
        opts = self.opts
        root = Path(path)
        files = sorted(p for p in root.rglob("*.txt") if p.is_file())
        for file in files:
            rel = file.relative_to(root).as_posix()
            where = f"{path.rstrip('/')}/{rel}"
            size = os.path.getsize(file)
            if size > opts.max_doc_bytes:
                result.reject("too_large", where, size)
                continue
            try:
                text = file.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                result.reject("invalid_utf8", where, size)
                continue
            reason, nbytes = check_text(text, opts)
            if reason:
                result.reject(reason, where, nbytes or size)
                continue
            record = {opts.id_field: f"{root.name}/{rel}"}
            doc = make_document(record, text, path, {"path": rel}, opts, root.name)
            result.accept(doc, nbytes)
            yield doc
