"""Shared pieces of the prep tests: tiny test-only steps (a config `plugins:` entry) and corpora.

The steps stand in for no named component: they give documents a language from their metadata,
drop short ones, and slow a shard down so a kill can land in the middle of it.
"""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

from data_prep.pipeline.registry import STEPS
from data_prep.pipeline.step import BaseFilter, PipelineStep

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
PLUGIN = "tests.prep_support"


@STEPS.register("test_lang_from_meta")
class LangFromMeta(PipelineStep):
    name = "test_lang_from_meta"

    def run(self, docs):
        for doc in docs:
            self.count_in(doc)
            doc.lang = doc.meta.get("declared_lang") or "und"
            self.count_out(doc)
            yield doc


@STEPS.register("test_min_words")
class MinWords(BaseFilter):
    name = "test_min_words"

    def __init__(self, min_words: int = 3):
        super().__init__()
        if not isinstance(min_words, int) or min_words < 0:
            raise TypeError(f"min_words must be a non-negative int, got {min_words!r}")
        self.min_words = min_words

    def filter(self, doc):
        return True if len(doc.text.split()) >= self.min_words else (False, "test_min_words_short")


@STEPS.register("test_sleep")
class Sleep(PipelineStep):
    name = "test_sleep"

    def __init__(self, seconds_per_doc: float = 0.0):
        super().__init__()
        self.seconds_per_doc = seconds_per_doc

    def run(self, docs):
        for doc in docs:
            time.sleep(self.seconds_per_doc)
            yield doc


# What the Slurm test checks each array task saw: the variables a cluster profile sets.
PROBED_ENV = (
    "GLOO_SOCKET_IFNAME",
    "MKL_NUM_THREADS",
    "TOKENIZERS_PARALLELISM",
    "HF_DATASETS_OFFLINE",
    "OMP_NUM_THREADS",
    "PYTHONUNBUFFERED",
)


@STEPS.register("test_env_probe")
class EnvProbe(PipelineStep):
    """Records, once per process, the job it runs in and the profile variables it sees."""

    name = "test_env_probe"

    def __init__(self, dir: str = ""):
        super().__init__()
        self.dir = dir

    def run(self, docs):
        import os
        import socket

        if self.dir:
            record = {
                "job": os.environ.get("SLURM_JOB_ID"),
                "array_job": os.environ.get("SLURM_ARRAY_JOB_ID"),
                "array_task": os.environ.get("SLURM_ARRAY_TASK_ID"),
                "host": socket.gethostname(),
                "env": {k: os.environ.get(k) for k in PROBED_ENV},
            }
            path = Path(self.dir) / f"{record['job'] or 'local'}-{os.getpid()}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(record))
        yield from docs


def sample_docs(limit: int | None = None, min_chars: int = 800) -> list[dict]:
    """Real documents from the committed sample corpus (long ones, so near-copies stay near)."""
    docs = []
    for path in sorted(SAMPLE.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                # Plenty of distinct words: planted near-copies then differ from everything else.
                if len(rec["text"]) >= min_chars and len(set(rec["text"].split())) >= 120:
                    docs.append(rec)
    docs.sort(key=lambda r: r["id"])
    return docs[:limit] if limit else docs


def write_jsonl(path: Path, records: list, compress: str | None = None) -> Path:
    lines = "".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    data = lines.encode("utf-8")
    if compress == "gz":
        data = gzip.compress(data, mtime=0)
    elif compress == "zst":
        import zstandard

        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


def near_copy(text: str, every: int = 100) -> str:
    """The same text with one word in `every` replaced: a near duplicate (Jaccard of 5-grams ~0.9)."""
    words = text.split(" ")
    return " ".join("XYZZY" if i % every == every - 1 else w for i, w in enumerate(words))


def tree_bytes(root: Path, skip: str = ".prep") -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and skip not in p.relative_to(root).parts
    }


TEST_CONFIG = f"""\
name: prep-test
plugins: [{PLUGIN}]
steps:
  test_lang_from_meta: {{}}
  test_min_words: {{min_words: 5}}
output:
  validation_fraction: 0.1
"""


def make_corpus(root: Path, shards: int = 4, per_shard: int = 12) -> dict[str, list[tuple[str, str]]]:
    """Shards of real sample documents with planted duplicates and bad lines.

    Returns {"exact": [(original_id, copy_id)], "near": [...]}: each copy sits in a later shard
    than its original, so the original is the one to keep.
    """
    root.mkdir(parents=True, exist_ok=True)
    docs = sample_docs(shards * per_shard)
    planted: dict[str, list[tuple[str, str]]] = {"exact": [], "near": []}
    for s in range(shards):
        records: list = [dict(d) for d in docs[s * per_shard : (s + 1) * per_shard]]
        if s > 0:
            exact_src, near_src = docs[(s - 1) * per_shard], docs[(s - 1) * per_shard + 1]
            exact = {**exact_src, "id": f"exact-copy-{s}"}
            near = {**near_src, "id": f"near-copy-{s}", "text": near_copy(near_src["text"])}
            assert near["text"] != near_src["text"]
            records[3:3] = [exact, near]
            planted["exact"].append((exact_src["id"], exact["id"]))
            planted["near"].append((near_src["id"], near["id"]))
        records.append('{"id": "broken", "text": \n')
        records.append({"id": f"short-{s}", "text": "zu kurz", "meta": {"declared_lang": "de"}})
        write_jsonl(root / f"part-{s:02d}.jsonl.gz", records, compress="gz")
    return planted
