"""`llm-train data erase`: one erasure request, start to end, resumable after a kill at any point.

    1 scan      find the selected documents in every copy the corpus keeps (scan.py); nothing
                matched is an error and nothing is written
    2 report    which runs and checkpoints consumed them (report.py), from the maps they trained on
    3 rewrite   the files holding them, each atomically (scan.rewrite)
    4 stats     stats.json, DATACARD.md, README.md (stats.py), once per request
    5 packed    the packs made from the corpus: affected languages rebuilt (repack.py)
    6 log       one record appended to `<corpus>/erasures.jsonl`

The journal `<corpus>/.erase/pending.json` (written atomically after each phase; it holds the
matched ids, which the corpus itself holds anyway) lets a rerun continue where a kill stopped it;
it is removed at the end. The log keeps what was asked only as counts and sha256 hashes, how many
documents matched, when, and the corpus config hash. The same request again is recognised in the
log and changes nothing.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from data_prep.erase.repack import pack_source, repack_languages
from data_prep.erase.report import RunReport, runs_report
from data_prep.erase.request import ErasureRequest
from data_prep.erase.scan import FileHit, rewrite, scan
from data_prep.erase.stats import applied, apply_erasure, load_stats, write_stats_and_cards
from llm_train import storage
from llm_train.errors import DataError
from llm_train.lineage.docmap import HISTORY_DIR
from llm_train.utils.atomic import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

LOG_FILE = "erasures.jsonl"
JOURNAL_DIR = ".erase"
PHASES = ("report", "rewrite", "stats", "packed", "log")


@dataclass
class EraseResult:
    record: dict
    reports: list[RunReport] = field(default_factory=list)
    already: bool = False
    resumed: bool = False


def read_log(corpus: Path) -> list[dict]:
    path = corpus / LOG_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _check_corpus(corpus: Path) -> None:
    if not (corpus / "stats.json").is_file():
        raise DataError(f"{corpus}: not a clean corpus written by `llm-train prep` (no stats.json)")
    if not (corpus / ".prep" / "plan.json").is_file():
        raise DataError(
            f"{corpus}: its prep state .prep/plan.json is missing (the data card cannot be rewritten)"
        )


class _Journal:
    def __init__(self, corpus: Path):
        self.dir = corpus / JOURNAL_DIR
        self.path = self.dir / "pending.json"

    def load(self) -> dict | None:
        return json.loads(self.path.read_text(encoding="utf-8")) if self.path.is_file() else None

    def save(self, pending: dict) -> None:
        atomic_write_json(self.path, pending)

    def done(self) -> None:
        self.path.unlink(missing_ok=True)


def erase(
    corpus: str | Path,
    request: ErasureRequest,
    packed: list[str | Path] = (),
    runs: list[str | Path] = (),
    tokenizer: str | None = None,
    progress: bool = True,
) -> list[EraseResult]:
    """Carry out `request` (after finishing an interrupted one, if any); one result per request."""
    corpus = Path(corpus).resolve()
    _check_corpus(corpus)
    journal = _Journal(corpus)
    storage.make_dirs(journal.dir)
    results = []
    with open(journal.dir / "lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataError(f"{corpus}: another `llm-train data erase` is running on this corpus") from None
        pending = journal.load()
        if pending is not None and pending["request_sha256"] != request.sha256:
            log.warning("finishing the interrupted erasure %s first", pending["request_sha256"][:16])
            results.append(_finish(corpus, journal, pending, packed, runs, tokenizer, resumed=True))
            pending = None
        if pending is None:
            done = next((r for r in read_log(corpus) if r["request_sha256"] == request.sha256), None)
            if done is not None:
                return [*results, EraseResult(done, already=True)]
            pending = _plan(corpus, request, progress)
            journal.save(pending)
            results.append(_finish(corpus, journal, pending, packed, runs, tokenizer))
        else:
            results.append(_finish(corpus, journal, pending, packed, runs, tokenizer, resumed=True))
    return results


def _plan(corpus: Path, request: ErasureRequest, progress: bool) -> dict:
    found = scan(corpus, request, progress)
    for problem in found.unreadable:
        log.warning("erase: could not read to the end, not searched fully: %s", problem)
    if not found.ids:
        raise DataError(
            f"erase: the request ({', '.join(request.selectors)}) matched no document in {corpus} "
            f"({found.searched_docs} documents in {found.searched_files} files searched); nothing was changed"
            + (f"; {len(found.unreadable)} file(s) could not be read to the end" if found.unreadable else "")
        )
    stats = load_stats(corpus)
    return {
        "request_sha256": request.sha256,
        "request": request.hashed(),
        "selectors": request.selectors,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config_sha256": stats.get("config_sha256"),
        "ids": sorted(found.ids),
        "files": [asdict(h) for h in found.files],
        "searched": {"files": found.searched_files, "documents": found.searched_docs},
        "unreadable": found.unreadable,
        "done": [],
    }


def _roots(runs: list[str | Path]) -> list[Path]:
    if runs:
        return [Path(r) for r in runs]
    default = Path(os.environ.get("LLM_TRAIN_RUNS", "runs"))
    return [default] if default.is_dir() else []


def _finish(
    corpus: Path,
    journal: _Journal,
    pending: dict,
    packed: list[str | Path],
    runs: list[str | Path],
    tokenizer: str | None,
    resumed: bool = False,
) -> EraseResult:
    done = pending["done"]
    ids = set(pending["ids"])
    hits = [FileHit(**h) for h in pending["files"]]

    def finished(phase: str) -> None:
        done.append(phase)
        journal.save(pending)

    if "report" not in done:
        reports = runs_report(_roots(runs), corpus, ids)
        pending["reports"] = [r.to_json() for r in reports]
        dirs = {str(Path(p).resolve()) for p in packed} | {d for r in reports for d in r.packed}
        pending["packed_dirs"] = sorted(dirs)
        finished("report")
    if "rewrite" not in done:
        sizes = {}
        for h in hits:
            _, sizes[h.path] = rewrite(corpus / h.path, ids)
        pending["sizes_after"] = sizes
        finished("rewrite")
    clean = [h for h in hits if h.kind == "clean"]
    record = {
        "time": pending["time"],
        "request_sha256": pending["request_sha256"],
        "selectors": pending["selectors"],
        "docs": sum(h.docs for h in clean),
        "bytes": sum(h.bytes for h in clean),
    }
    if "stats" not in done:
        stats = load_stats(corpus)
        if not applied(stats, pending["request_sha256"]):
            apply_erasure(stats, hits, pending["sizes_after"], record)
        write_stats_and_cards(corpus, stats)
        finished("stats")
    if "packed" not in done:
        pending["repacked"] = _repack(corpus, pending["packed_dirs"], clean, ids, tokenizer)
        finished("packed")
    full = _log_record(pending, hits, record)
    _sweep(corpus, pending["packed_dirs"], hits)
    if "log" not in done:
        entries = read_log(corpus)
        if not any(e["request_sha256"] == full["request_sha256"] for e in entries):
            lines = [json.dumps(e, ensure_ascii=False) for e in [*entries, full]]
            atomic_write_text(corpus / LOG_FILE, "\n".join(lines) + "\n")
        finished("log")
    journal.done()
    reports = [RunReport(**r) for r in pending.get("reports", [])]
    return EraseResult(full, reports, resumed=resumed)


def _sweep(corpus: Path, packed_dirs: list[str], hits: list[FileHit]) -> None:
    """Remove what a killed erasure left half-written: the hidden temp files and dirs of the atomic
    writers (`.<name>.*.tmp`, `.<name>.tmp`, `.<name>.old`) in the places an erasure writes."""
    places = [corpus, corpus / "charts", corpus / JOURNAL_DIR, *{(corpus / h.path).parent for h in hits}]
    for d in packed_dirs:
        places += [Path(d), Path(d) / HISTORY_DIR]
    for place in places:
        if not place.is_dir():
            continue
        for entry in place.iterdir():
            if entry.name.startswith(".") and entry.name.endswith((".tmp", ".old")):
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)


def _repack(
    corpus: Path, dirs: list[str], clean: list[FileHit], ids: set[str], tokenizer: str | None
) -> dict:
    out = {}
    for d in dirs:
        packed = Path(d)
        source = pack_source(packed)
        if source is None or source.resolve() != corpus:
            log.warning(
                "erase: %s was not packed from %s (its pack_stats.json names %s): not rebuilt",
                d,
                corpus,
                source,
            )
            continue
        state = json.loads((packed / ".pack_state.json").read_text(encoding="utf-8"))
        langs = sorted({h.lang for h in clean if h.split == state.get("split", "train") and h.lang})
        if langs:
            out[d] = repack_languages(packed, corpus, langs, ids, tokenizer)
    return out


def _log_record(pending: dict, hits: list[FileHit], record: dict) -> dict:
    by_kind: dict[str, int] = {}
    by_lang: dict[str, int] = {}
    for h in hits:
        by_kind[h.kind] = by_kind.get(h.kind, 0) + h.docs
        if h.kind == "clean":
            by_lang[h.lang] = by_lang.get(h.lang, 0) + h.docs
    return {
        **record,
        "request": pending["request"],
        "matched": {
            "documents": len(pending["ids"]),
            "copies": dict(sorted(by_kind.items())),
            "clean_by_lang": dict(sorted(by_lang.items())),
            "files_rewritten": len(hits),
        },
        "config_sha256": pending["config_sha256"],
        "unreadable_files": len(pending.get("unreadable", [])),
        "packed_rebuilt": {d: sorted(v) for d, v in pending.get("repacked", {}).items()},
        "runs": [
            {
                "run": r["run"],
                "consumed": r["consumed"],
                "checkpoints": [f"step-{c['step']}" for c in r["checkpoints"]],
                "problem": r["problem"],
            }
            for r in pending.get("reports", [])
        ],
    }
