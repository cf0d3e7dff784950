"""Local HuggingFace datasets as prep input, offline: how consortium partners often hand data over.

Two layouts, each a directory given to `--input`:
- a `Dataset.save_to_disk` / `DatasetDict.save_to_disk` directory (`state.json`, or
  `dataset_dict.json` with one directory per split), its data in `.arrow` files;
- a directory of `.parquet` / `.arrow` files, with or without a dataset card (`README.md` whose
  YAML `configs:` name the files of each config and split), as a Hub dataset is laid out.

`datasets` resolves the layout (configs, splits, data-file patterns) and reads the `.arrow` files
(memory-mapped); `.parquet` files go through the parquet reader. Each data file becomes one prep
shard, so a large dataset is spread over many tasks, and a corrupt file is counted
(`read_corrupt_file`) while the other files are read. Records without a source get the dataset
directory's name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from data_prep.document import Document
from data_prep.readers.base import Reader, ReadResult, check_text, file_stem, make_document
from llm_train.errors import DataError

BATCH_ROWS = 1024
DATA_SUFFIXES = (".arrow", ".parquet")
# Files `save_to_disk` writes; their presence marks a directory as a saved dataset.
_STATE = "state.json"
_DICT = "dataset_dict.json"
_INFO = "dataset_info.json"
_COLUMNS = ("id", "lang", "source", "url", "meta")


def is_dataset_dir(path: str | Path) -> bool:
    """A saved dataset, or a directory holding parquet/arrow data files."""
    root = Path(path)
    if not root.is_dir():
        return False
    if (root / _STATE).is_file() or (root / _DICT).is_file():
        return True
    return any(p.suffix in DATA_SUFFIXES for p in root.rglob("*") if p.is_file())


def data_files(path: str | Path) -> list[str]:
    """Every data file of the dataset at `path`, sorted (split and config order do not matter)."""
    root = Path(path)
    if (root / _DICT).is_file():
        splits = json.loads((root / _DICT).read_text(encoding="utf-8"))["splits"]
        return sorted(f for split in splits for f in _saved_files(root / split))
    if (root / _STATE).is_file():
        return sorted(_saved_files(root))
    return sorted(_card_files(root))


def _saved_files(directory: Path) -> list[str]:
    state = json.loads((directory / _STATE).read_text(encoding="utf-8"))
    return [str(directory / entry["filename"]) for entry in state["_data_files"]]


def _card_files(root: Path) -> list[str]:
    """The data files of every config and split, as `datasets` resolves the card (or, without one,
    its file-name conventions: `train-*.parquet`, `data/test/...`)."""
    import datasets

    files: set[str] = set()
    try:
        for name in datasets.get_dataset_config_names(str(root)):
            builder = datasets.load_dataset_builder(str(root), name)
            for split_files in (builder.config.data_files or {}).values():
                files.update(str(f) for f in split_files)
    except Exception as exc:  # datasets raises many types for a card it cannot use
        raise DataError(f"{root}: not a dataset directory datasets can resolve: {exc}") from None
    unsupported = sorted(f for f in files if not f.endswith(DATA_SUFFIXES))
    if unsupported:
        raise DataError(
            f"{root}: the dataset card names files that are not parquet or arrow, e.g. {unsupported[0]}; "
            "give such files to --input directly"
        )
    return sorted(files)


def dataset_root(path: str | Path) -> Path | None:
    """The dataset directory a data file belongs to (the nearest one with a card or saved state)."""
    for parent in Path(path).resolve().parents:
        if any((parent / name).is_file() for name in (_STATE, _DICT, "README.md")):
            # A split directory of a DatasetDict is itself a saved dataset; name the dict.
            if (parent / _STATE).is_file() and (parent.parent / _DICT).is_file():
                return parent.parent
            return parent
    return None


def source_name(path: str) -> str:
    """Default source of a data file: its dataset's directory name (shard names say nothing)."""
    root = dataset_root(path)
    return root.name if root is not None else file_stem(path)


class ArrowReader(Reader):
    """`.arrow` files of a saved or Hub-layout dataset, read through `datasets` in batches."""

    name = "arrow"

    def _read(self, path: str, result: ReadResult) -> Iterator[Document]:
        import datasets

        opts = self.opts
        default_source = source_name(path)
        table = datasets.Dataset.from_file(path)
        if opts.text_field not in table.column_names:
            for row in range(table.num_rows):
                result.reject("missing_text", f"{path}:row {row}")
            return
        wanted = [c for c in table.column_names if c in _COLUMNS or c in (opts.text_field, opts.id_field)]
        row = 0
        for batch in table.select_columns(wanted).iter(batch_size=BATCH_ROWS):
            for values in zip(*batch.values(), strict=True):
                record = dict(zip(batch, values, strict=True))
                text = record.get(opts.text_field)
                reason, nbytes = check_text(text, opts)
                if reason:
                    result.reject(reason, f"{path}:row {row}", nbytes)
                else:
                    doc = make_document(record, text, path, {"row": row}, opts, default_source)
                    result.accept(doc, nbytes)
                    yield doc
                row += 1


class DatasetFileReader(Reader):
    """One data file of a dataset directory: arrow or parquet, the dataset's name as source."""

    name = "hf"

    def _read(self, path: str, result: ReadResult) -> Iterator[Document]:
        from data_prep.readers.parquet import ParquetReader

        opts = replace(self.opts, source=self.opts.source or source_name(path))
        reader = ArrowReader(opts) if path.endswith(".arrow") else ParquetReader(opts)
        yield from reader._read(path, result)
