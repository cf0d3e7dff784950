"""Rebuild the packed datasets of the languages an erasure touched, in a pack made from the corpus.

The languages are packed again, with the pack's own tokenizer, dtype and grouping, into
`<packed>/.erase-repack/` (itself a resumable pack), then each dataset's .bin, .idx and document map
is moved over the old one; the old map is archived first (with its .idx) so lineage still reads
the runs that trained on the old pack. pack_stats.json and the pack's mixture.yaml get the new
counts; mixture weights stay as they were (the blend the team chose). The archived maps keep the
erased ids (lineage must still name the runs that read them) but not their urls. A rerun after a
kill finds the finished repack and moves what is left.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import yaml

from data_prep.pack.docmap import archive_docmap, redact_urls
from data_prep.pack.packer import STATE_FILE, STATS_FILE, PackOptions, corpus_identity, pack
from data_prep.readers.corpus import discover
from llm_train.data.mixture import MIXTURE_FILE
from llm_train.errors import DataError
from llm_train.lineage.docmap import docmap_dir, history
from llm_train.utils.atomic import atomic_replace_dir, atomic_write_json, atomic_write_text, fsync_dir

log = logging.getLogger(__name__)
REPACK_DIR = ".erase-repack"


def pack_source(packed: Path) -> Path | None:
    """The clean corpus a pack was made from (pack_stats.json), or None when it cannot tell."""
    stats_path = packed / STATS_FILE
    if not stats_path.is_file():
        return None
    stats = json.loads(stats_path.read_text(encoding="utf-8"))
    if stats.get("corpus"):
        return Path(stats["corpus"])
    inputs = [Path(p) for p, _ in stats.get("inputs", [])]
    # Packed before the corpus was recorded: <corpus>/<lang>/<split>/<file>.
    roots = {p.parents[2] for p in inputs if len(p.parents) >= 3}
    return roots.pop() if len(roots) == 1 else None


def repack_languages(
    packed: Path, corpus: Path, langs: list[str], erased: set[str] = frozenset(), tokenizer: str | None = None
) -> dict:
    """Pack `langs` of `corpus` again into `packed`; returns {dataset: {documents, tokens}} packed.
    The archived maps of those datasets keep the `erased` ids (lineage) but lose their urls."""
    state = json.loads((packed / STATE_FILE).read_text(encoding="utf-8"))
    stats = json.loads((packed / STATS_FILE).read_text(encoding="utf-8"))
    tok = tokenizer or stats["tokenizer"]["path"]
    if not Path(tok).is_dir():
        raise DataError(
            f"{packed}: its tokenizer {tok} is gone; pass --tokenizer DIR (the same tokenizer) to rebuild it"
        )
    split = state.get("split", "train")
    present = {f.lang for f in discover(corpus, split)} if (corpus).is_dir() else set()
    work = packed / REPACK_DIR
    new_stats = {"datasets": {}}
    todo = [lang for lang in langs if lang in present]
    if todo:
        options = PackOptions(
            workers=1, group_by=state["group_by"], split=split, langs=todo, dtype=state["dtype"]
        )
        new_stats = pack(corpus, tok, work, options)
    old = {n: d for n, d in stats["datasets"].items() if d["lang"] in langs}
    for entry in new_stats["datasets"].values():
        target = packed / entry["prefix"]
        pending = [work / f"{entry['prefix']}{ext}" for ext in (".bin", ".idx")] + [
            docmap_dir(work / entry["prefix"])
        ]
        if any(p.exists() for p in pending):  # else moved by a run that was killed later
            archive_docmap(target)
        for ext in (".bin", ".idx"):
            src = work / f"{entry['prefix']}{ext}"
            if src.is_file():
                os.replace(src, Path(f"{target}{ext}"))
        if docmap_dir(work / entry["prefix"]).is_dir():
            atomic_replace_dir(docmap_dir(work / entry["prefix"]), docmap_dir(target))
    # A language with nothing left in this split: its old dataset still holds the erased text.
    for name in set(old) - set(new_stats["datasets"]):
        target = packed / old[name]["prefix"]
        archive_docmap(target)
        for ext in (".bin", ".idx"):
            Path(f"{target}{ext}").unlink(missing_ok=True)
        shutil.rmtree(docmap_dir(target), ignore_errors=True)
    for entry in [*old.values(), *new_stats["datasets"].values()]:
        for archived in history(packed / entry["prefix"]):
            redact_urls(archived.path, erased)
    fsync_dir(packed)
    _update_pack_stats(packed, corpus, stats, set(old), new_stats["datasets"], split)
    _update_mixture(packed, new_stats["datasets"], set(old) - set(new_stats["datasets"]))
    shutil.rmtree(work, ignore_errors=True)
    return {n: {"documents": d["documents"], "tokens": d["tokens"]} for n, d in new_stats["datasets"].items()}


def _update_pack_stats(
    packed: Path, corpus: Path, stats: dict, replaced: set[str], new: dict, split: str
) -> None:
    datasets = {n: d for n, d in stats["datasets"].items() if n not in replaced}
    datasets.update(new)
    stats["datasets"] = dict(sorted(datasets.items()))
    stats["text_bytes"] = sum(d["text_bytes"] for d in datasets.values())
    stats.update(corpus_identity(corpus))
    stats["inputs"] = [[str(f.path), f.size] for f in discover(corpus, split)]
    atomic_write_json(packed / STATS_FILE, stats)


def _update_mixture(packed: Path, new: dict, gone: set[str]) -> None:
    path = packed / MIXTURE_FILE
    if not path.is_file():
        return
    mixture = yaml.safe_load(path.read_text(encoding="utf-8"))
    kept = []
    for entry in mixture.get("datasets", []):
        name = entry.get("name")
        if name in gone:
            log.warning("%s: dataset %s has no documents left after the erasure: removed", path, name)
            continue
        if name in new:
            entry["tokens"] = new[name]["tokens"]
            entry["documents"] = new[name]["documents"]
        kept.append(entry)
    mixture["datasets"] = kept
    atomic_write_text(path, yaml.safe_dump(mixture, sort_keys=False, allow_unicode=True))
