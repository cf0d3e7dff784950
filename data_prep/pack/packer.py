"""`llm-train pack`: corpus files -> shards in parallel -> one indexed dataset per language.

Each corpus file is one unit of work (a shard); a pool of worker processes packs them, every
finished shard leaving a done marker in `<output>/.shards/`. A rerun after a kill packs only the
files without a valid marker. When all shards are done they are merged in corpus order (so the
result does not depend on the number of workers), `pack_stats.json` is written, and the shards
are removed. The output is tied to one tokenizer: `.pack_state.json` records its hash, and a
rerun with another tokenizer, dtype or grouping stops before any work.

Beside each `<prefix>.bin/.idx` the merge writes `<prefix>.docmap/`, the map from document index to
the clean document's id, url and source that lineage and erasure read (llm_train/lineage/docmap.py);
a dataset packed again keeps its previous map in `.docmap-history/` for the runs that used it.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import shutil
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from data_prep.pack import indexed
from data_prep.pack.docmap import archive_docmap, build_docmap, docs_path
from data_prep.pack.worker import ShardTask, init_worker, marker_path, pack_file
from data_prep.readers.corpus import CorpusFile, discover
from llm_train import storage
from llm_train.data.tokenizer_dir import TOKENIZER_FILE, TokenizerInfo, load_tokenizer
from llm_train.errors import DataError
from llm_train.lineage.docmap import docmap_dir, file_sha256
from llm_train.utils.atomic import atomic_write_json

logger = logging.getLogger(__name__)

STATS_FILE = "pack_stats.json"
STATE_FILE = ".pack_state.json"
SHARDS_DIR = ".shards"
SUFFIX = "_text_document"


@dataclass
class PackOptions:
    workers: int = 1
    threads_per_worker: int = 1
    group_by: str = "lang"
    split: str = "train"
    langs: list[str] | None = None
    batch_bytes: int = 1 << 20
    fast: bool = True
    dtype: str | None = None  # None: uint16 when the vocabulary fits, else int32

    def check(self, info: TokenizerInfo) -> str:
        if self.group_by not in ("lang", "source"):
            raise DataError(f"--group-by must be 'lang' or 'source' (got {self.group_by!r})")
        if self.workers < 1 or self.threads_per_worker < 1:
            raise DataError("--workers and --threads-per-worker must be >= 1")
        dtype = self.dtype or info.dtype.name
        if dtype not in ("uint16", "int32"):
            raise DataError(f"--dtype must be uint16 or int32 (got {dtype!r})")
        if dtype == "uint16" and info.vocab_size > 65536:
            raise DataError(
                f"--dtype uint16 cannot hold ids of a {info.vocab_size}-token vocabulary ({info.path}); use int32"
            )
        return dtype


def _state(info: TokenizerInfo, dtype: str, options: PackOptions) -> dict:
    return {
        "tokenizer_sha256": info.sha256,
        "vocab_size": info.vocab_size,
        "eod_id": info.eod_id,
        "dtype": dtype,
        "group_by": options.group_by,
        "split": options.split,
    }


def _check_state(output: Path, state: dict) -> None:
    path = output / STATE_FILE
    if not path.is_file():
        return
    old = json.loads(path.read_text())
    diff = {k: (old.get(k), v) for k, v in state.items() if old.get(k) != v}
    if diff:
        what = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in diff.items())
        raise DataError(
            f"{output} holds data packed with different settings ({what}); "
            "use a new --output directory or delete the old one"
        )


def _valid_marker(shard_dir: Path, file: CorpusFile) -> dict | None:
    path = marker_path(shard_dir, file)
    if not path.is_file():
        return None
    try:
        marker = json.loads(path.read_text())
    except ValueError:
        return None
    if marker.get("size") != file.size:
        return None  # the input changed since: pack it again
    for out in marker["outputs"].values():
        prefix = shard_dir / out["shard"]
        if not (indexed.bin_path(prefix).is_file() and indexed.idx_path(prefix).is_file()):
            return None
        if not docs_path(prefix).is_file():
            return None  # packed before document maps existed
    return marker


def _inputs_fingerprint(files: list[CorpusFile]) -> list[list]:
    return [[str(f.path), f.size] for f in files]


def corpus_identity(corpus: str | Path) -> dict:
    """Where the packed documents came from, for lineage, erasure and the AI Act summary."""
    root = Path(corpus).resolve()
    stats = root / "stats.json"
    return {
        "corpus": str(root),
        "corpus_stats_sha256": file_sha256(stats) if stats.is_file() else None,
    }


def pack(corpus: str | Path, tokenizer_dir: str | Path, output: str | Path, options: PackOptions) -> dict:
    started = time.monotonic()
    info = load_tokenizer(tokenizer_dir)  # fails before any work on a broken tokenizer dir
    dtype = options.check(info)
    files = discover(corpus, options.split, options.langs)
    output = Path(output)
    storage.make_dirs(output)
    state = _state(info, dtype, options)
    _check_state(output, state)
    atomic_write_json(output / STATE_FILE, state)

    stats_path = output / STATS_FILE
    shard_dir = output / SHARDS_DIR
    if stats_path.is_file() and not shard_dir.exists():
        previous = json.loads(stats_path.read_text())
        if previous.get("inputs") == _inputs_fingerprint(files):
            print(f"pack: {output} is up to date ({len(files)} files already packed)")
            return previous

    markers: dict[CorpusFile, dict] = {}
    todo = []
    for file in files:
        marker = _valid_marker(shard_dir, file)
        if marker is not None:
            markers[file] = marker
        else:
            todo.append(file)
    if markers:
        logger.info("resuming: %d of %d files already packed", len(markers), len(files))
    tasks = [
        ShardTask(
            file,
            str(info.path / TOKENIZER_FILE),
            str(shard_dir),
            options.group_by,
            dtype,
            info.eod_id,
            options.batch_bytes,
            options.fast,
        )
        for file in todo
    ]
    markers.update(_run(tasks, options))
    stats = _merge_all(files, markers, shard_dir, output, info, dtype, options, corpus_identity(corpus))
    stats["elapsed_s"] = round(time.monotonic() - started, 3)
    stats["inputs"] = _inputs_fingerprint(files)
    atomic_write_json(stats_path, stats)
    shutil.rmtree(shard_dir, ignore_errors=True)
    total_docs = sum(d["documents"] for d in stats["datasets"].values())
    total_tokens = sum(d["tokens"] for d in stats["datasets"].values())
    skipped = sum(stats["skipped"].values())
    mb = stats["text_bytes"] / 1e6
    print(
        f"pack: {len(stats['datasets'])} datasets, {total_docs} documents, {total_tokens} tokens ({dtype}) "
        f"from {len(files)} files ({mb:.1f} MB text, {skipped} bad records skipped) in {stats['elapsed_s']:.1f}s "
        f"with {options.workers} worker(s) -> {output}"
    )
    return stats


def _run(tasks: list[ShardTask], options: PackOptions) -> dict[CorpusFile, dict]:
    done: dict[CorpusFile, dict] = {}
    if not tasks:
        return done
    total = sum(t.file.size for t in tasks)
    bar = tqdm(total=total, unit="B", unit_scale=True, desc="pack", disable=None)
    if options.workers == 1:
        init_worker(options.threads_per_worker)
        for task in tasks:
            done[task.file] = pack_file(task)
            bar.update(task.file.size)
        bar.close()
        return done
    # spawn, not fork: a forked child would inherit the parent's tokenizer thread pool state.
    ctx = multiprocessing.get_context("spawn")
    # Biggest files first, so one large file does not start last and leave the others idle.
    ordered = sorted(tasks, key=lambda t: -t.file.size)
    with ProcessPoolExecutor(
        options.workers, mp_context=ctx, initializer=init_worker, initargs=(options.threads_per_worker,)
    ) as pool:
        pending = {pool.submit(pack_file, task): task for task in ordered}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                task = pending.pop(future)
                done[task.file] = future.result()
                bar.update(task.file.size)
    bar.close()
    return done


def _merge_all(
    files: list[CorpusFile],
    markers: dict[CorpusFile, dict],
    shard_dir: Path,
    output: Path,
    info: TokenizerInfo,
    dtype: str,
    options: PackOptions,
    identity: dict,
) -> dict:
    parts: dict[str, list[Path]] = {}
    datasets: dict[str, dict] = {}
    skipped: Counter = Counter()
    problems: list[dict] = []
    text_bytes = 0
    for file in files:  # corpus order, so the output does not depend on scheduling
        marker = markers[file]
        skipped.update(marker["read"]["skipped"])
        problems.extend(marker["read"]["problems"])
        for name, out in sorted(marker["outputs"].items()):
            parts.setdefault(name, []).append(shard_dir / out["shard"])
            entry = datasets.setdefault(
                name,
                {
                    "prefix": f"{name}{SUFFIX}",
                    "lang": out["lang"],
                    "source": out["source"],
                    "documents": 0,
                    "tokens": 0,
                    "text_bytes": 0,
                    "files": 0,
                },
            )
            entry["documents"] += out["documents"]
            entry["tokens"] += out["tokens"]
            entry["text_bytes"] += out["text_bytes"]
            entry["files"] += 1
            text_bytes += out["text_bytes"]
    for name, name_parts in tqdm(sorted(parts.items()), desc="merge", disable=None):
        target = output / f"{name}{SUFFIX}"
        archive_docmap(target)
        if len(name_parts) == 1:
            for path in (indexed.bin_path, indexed.idx_path):
                path(name_parts[0]).replace(path(target))
        else:
            indexed.merge(name_parts, target)
        build_docmap(name_parts, target, {"lang": datasets[name]["lang"], **identity})
    # Datasets of an earlier pack of this output that no longer exist would mislead a mixture.
    for stale in output.glob(f"*{SUFFIX}.idx"):
        if stale.name[: -len(f"{SUFFIX}.idx")] not in datasets:
            logger.warning("removing stale dataset %s", stale)
            stale.unlink()
            stale.with_suffix(".bin").unlink(missing_ok=True)
            shutil.rmtree(docmap_dir(stale.with_suffix("")), ignore_errors=True)
    cpu = sum(m.get("cpu_seconds", 0.0) for m in markers.values())
    return {
        "version": 1,
        **identity,
        "tokenizer": info.describe(),
        "dtype": dtype,
        "split": options.split,
        "group_by": options.group_by,
        "eod_id": info.eod_id,
        "workers": options.workers,
        "encoder": sorted({m.get("encoder", "?") for m in markers.values()}),
        "text_bytes": text_bytes,
        "datasets": dict(sorted(datasets.items())),
        "skipped": dict(sorted(skipped.items())),
        "problems": problems[:100],
        "worker_cpu_seconds": round(cpu, 3),
    }
