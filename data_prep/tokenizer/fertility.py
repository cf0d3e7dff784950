"""Fertility per language: tokens per word and bytes per token on the validation split.

High tokens-per-word for a language means the tokenizer serves it poorly (longer sequences, less
text per training token); the table makes that visible per language before training starts.
Words are whitespace-separated runs, which is crude but the same for every tokenizer compared.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer

from data_prep.readers import ReadResult
from data_prep.readers.corpus import CorpusFile, read_corpus_file

BATCH = 256


def _batches(files: Iterable[CorpusFile], max_bytes: int, report: ReadResult):
    taken = 0
    batch: list[str] = []
    for file in files:
        for doc in read_corpus_file(file.path, report):
            batch.append(doc.text)
            taken += len(doc.text.encode("utf-8"))
            if len(batch) == BATCH:
                yield batch
                batch = []
            if taken >= max_bytes:
                if batch:
                    yield batch
                return
    if batch:
        yield batch


def measure_fertility(
    tokenizer: Tokenizer, files: list[CorpusFile], max_bytes_per_lang: int, report: ReadResult
) -> dict[str, dict]:
    """{lang: {documents, words, bytes, tokens, tokens_per_word, bytes_per_token}}."""
    by_lang: dict[str, list[CorpusFile]] = {}
    for file in files:
        by_lang.setdefault(file.lang, []).append(file)
    result = {}
    for lang, lang_files in sorted(by_lang.items()):
        docs = words = nbytes = tokens = 0
        for batch in _batches(lang_files, max_bytes_per_lang, report):
            encodings = tokenizer.encode_batch_fast(batch, add_special_tokens=False)
            docs += len(batch)
            words += sum(len(text.split()) for text in batch)
            nbytes += sum(len(text.encode("utf-8")) for text in batch)
            tokens += sum(len(enc.ids) for enc in encodings)
        result[lang] = {
            "documents": docs,
            "words": words,
            "bytes": nbytes,
            "tokens": tokens,
            "tokens_per_word": round(tokens / words, 4) if words else None,
            "bytes_per_token": round(nbytes / tokens, 4) if tokens else None,
        }
    return result


def render_table(fertility: dict[str, dict]) -> str:
    lines = [f"{'lang':<6} {'docs':>8} {'words':>11} {'tokens':>11} {'tok/word':>9} {'bytes/tok':>10}"]
    for lang, row in fertility.items():
        tpw = f"{row['tokens_per_word']:.3f}" if row["tokens_per_word"] is not None else "-"
        bpt = f"{row['bytes_per_token']:.3f}" if row["bytes_per_token"] is not None else "-"
        lines.append(
            f"{lang:<6} {row['documents']:>8} {row['words']:>11} {row['tokens']:>11} {tpw:>9} {bpt:>10}"
        )
    return "\n".join(lines)
