"""Side-by-side: our per-document steps vs datatrove 0.10 on the same documents, one core each.

    python benchmarks/prep_vs_datatrove.py --corpus data/sample [--datatrove-python PY] [--limit-mb N]

Both pipelines: language ID -> Gopher repetition -> Gopher quality -> FineWeb quality -> PII -> MinHash
signatures. Language ID is our heliport step on both sides (datatrove's LanguageFilter downloads a
fastText model); datatrove's filters get the document's language (its spaCy tokenizer for that
language) and our stop-word list, as a per-language datatrove config would. Ours also runs
`normalize` first. Each side runs in its own process pinned to one CPU, on the same
pre-normalized documents held in memory; the time is the pipeline only (no reading/writing of
the corpus). Reported: MB/s per core (UTF-8 bytes of input text), the ratio, and the keep/drop
agreement of each shared filter on the documents that reached it on both sides.

datatrove 0.10 pins huggingface-hub>=1.6 and trafilatura<1.12, which conflict with this project's
transformers and trafilatura, so it lives in its own virtualenv: pass its python with
--datatrove-python (see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FILTERS = ["langid", "gopher_repetition", "gopher_quality", "fineweb_quality"]
SHARED = ["gopher_repetition", "gopher_quality", "fineweb_quality"]


def open_text(path: Path):
    if path.name.endswith(".zst"):
        import zstandard

        return io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(path.open("rb")), encoding="utf-8")
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")  # noqa: SIM115  (closed by the caller's with)
    return path.open(encoding="utf-8")


def read_corpus(corpus: Path, limit_bytes: int | None) -> list[dict]:
    docs, total = [], 0
    files = sorted(p for p in corpus.rglob("*") if p.name.endswith((".jsonl", ".jsonl.gz", ".jsonl.zst")))
    for path in files:
        with open_text(path) as fh:
            for line in fh:
                obj = json.loads(line)
                docs.append(obj)
                total += len(obj["text"].encode("utf-8"))
                if limit_bytes and total >= limit_bytes:
                    return docs
    return docs


def tap(stream, ids: list):
    """Pass documents through, remembering which ids came out of the previous step."""
    for doc in stream:
        ids.append(doc.id)
        yield doc


def filter_decisions(docs, originals: dict, entered: dict, steps: dict) -> dict[str, dict[str, str]]:
    """Per shared filter: "keep", or the drop reason, for every document that reached it.

    Reasons are recomputed after timing, on the text each filter saw (filters do not edit text
    here); either side's filter returns True/False or (False, reason).
    """
    by_id = {d.id: d for d in docs}
    decisions = {}
    for i, name in enumerate(FILTERS):
        after = set(entered[FILTERS[i + 1]] if i + 1 < len(FILTERS) else entered["pii"])
        out = {}
        for doc_id in entered[name]:
            if doc_id in after:
                out[doc_id] = "keep"
            else:
                doc = by_id[doc_id]
                doc.text = originals[doc_id]
                result = steps[name].filter(doc)
                out[doc_id] = result[1] if isinstance(result, tuple) else "drop?"
        decisions[name] = out
    return decisions


# ---------------------------------------------------------------- our side (this venv)
def run_ours(docs_json: list[dict]) -> dict:
    sys.path.insert(0, str(REPO))
    from data_prep.dedup.signatures import MinHashParams, SignatureBatch, shingle_hashes
    from data_prep.dedup.signatures import words as mh_words
    from data_prep.document import Document
    from data_prep.steps.fineweb_quality import FineWebQualityFilter
    from data_prep.steps.gopher_quality import GopherQualityFilter
    from data_prep.steps.gopher_repetition import GopherRepetitionFilter
    from data_prep.steps.langid import LanguageId
    from data_prep.steps.normalize import Normalize
    from data_prep.steps.pii import PIIScrubber

    steps = {
        "normalize": Normalize(),
        "langid": LanguageId(),
        "gopher_repetition": GopherRepetitionFilter(),
        "gopher_quality": GopherQualityFilter(),
        "fineweb_quality": FineWebQualityFilter(),
        "pii": PIIScrubber(),
    }
    docs = [Document.from_json(d) for d in docs_json]
    originals = {d.id: d.text for d in docs}
    entered: dict[str, list] = {name: [] for name in steps}
    params = MinHashParams()
    t0 = time.perf_counter()
    stream = iter(docs)
    for name, step in steps.items():
        stream = step.run(tap(stream, entered[name]))
    batch, n_sigs = SignatureBatch(params), 0
    for doc in stream:
        batch.add(shingle_hashes(mh_words(doc.text), params.ngram))
        if len(batch) >= 1024:
            n_sigs += len(batch.bands())
    n_sigs += len(batch.bands())
    elapsed = time.perf_counter() - t0
    langs = {d.id: d.lang for d in docs}
    decisions = filter_decisions(docs, originals, entered, steps)
    return {"seconds": elapsed, "signatures": n_sigs, "decisions": decisions, "langs": langs}


# ---------------------------------------------------------------- datatrove side (its venv)
def run_datatrove(docs_json: list[dict], workdir: str) -> dict:
    sys.path.insert(0, str(REPO))
    from datatrove.data import Document as DTDocument
    from datatrove.pipeline.dedup.minhash import MinhashDedupSignature
    from datatrove.pipeline.filters import FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter
    from datatrove.pipeline.filters.base_filter import BaseFilter as DTFilter
    from datatrove.pipeline.formatters import PIIFormatter
    from datatrove.utils.word_tokenizers import SpaCyTokenizer

    from data_prep.document import Document
    from data_prep.resources import stop_words
    from data_prep.steps.langid import LanguageId

    class HeliportLanguageFilter(DTFilter):
        """Our heliport language ID inside datatrove (its own LanguageFilter downloads fastText)."""

        name = "heliport LID"

        def __init__(self):
            super().__init__()
            self.lid = LanguageId()

        def filter(self, doc):
            ours = Document(id=doc.id, text=doc.text)
            result = self.lid.filter(ours)
            doc.metadata["language"] = ours.lang
            doc.metadata["language_score"] = ours.meta["lang_score"]
            return result

    class PerLanguage(DTFilter):
        """One datatrove filter instance per document language, as per-language configs do."""

        def __init__(self, make, name):
            super().__init__()
            self.make, self.name, self.filters = make, name, {}

        def filter(self, doc):
            lang = doc.metadata["language"]
            if lang not in self.filters:
                # Maltese's assigned tokenizer (stanza) downloads a model: use spaCy's multilingual one.
                tok_lang = SpaCyTokenizer("xx") if lang == "mt" else lang
                self.filters[lang] = self.make(lang, tok_lang)
            return self.filters[lang].filter(doc)

    steps = {
        "langid": HeliportLanguageFilter(),
        "gopher_repetition": PerLanguage(lambda lang, tok: GopherRepetitionFilter(language=tok), "rep"),
        "gopher_quality": PerLanguage(
            lambda lang, tok: GopherQualityFilter(language=tok, stop_words=sorted(stop_words(lang))),
            "quality",
        ),
        "fineweb_quality": PerLanguage(lambda lang, tok: FineWebQualityFilter(language=tok), "fineweb"),
        "pii": PIIFormatter(),
    }
    minhash = MinhashDedupSignature(output_folder=os.path.join(workdir, "dt-sigs"))
    docs = [DTDocument(text=d["text"], id=d["id"], metadata={}) for d in docs_json]
    originals = {d.id: d.text for d in docs}
    entered: dict[str, list] = {name: [] for name in steps}
    t0 = time.perf_counter()
    stream = iter(docs)
    for name, step in steps.items():
        stream = step.run(tap(stream, entered[name]), rank=0, world_size=1)
    minhash.run(stream, rank=0, world_size=1)
    elapsed = time.perf_counter() - t0
    return {"seconds": elapsed, "decisions": filter_decisions(docs, originals, entered, steps)}


# ---------------------------------------------------------------- orchestration
def child(side: str, docs_path: str, out_path: str, workdir: str) -> None:
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})  # one core, same for both sides
    with open(docs_path, encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    result = run_ours(docs) if side == "ours" else run_datatrove(docs, workdir)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(result, f)


def agreement(ours: dict, theirs: dict) -> dict:
    report = {}
    for name in FILTERS:
        a, b = ours["decisions"][name], theirs["decisions"][name]
        common = a.keys() & b.keys()
        same = sum(1 for i in common if (a[i] == "keep") == (b[i] == "keep"))
        disagree = Counter((a[i], b[i]) for i in common if (a[i] == "keep") != (b[i] == "keep"))
        report[name] = {
            "docs": len(common),
            "agree": same / len(common) if common else 1.0,
            "kept_ours": sum(1 for i in common if a[i] == "keep"),
            "kept_datatrove": sum(1 for i in common if b[i] == "keep"),
            "disagreements": [[k[0], k[1], v] for k, v in disagree.most_common(8)],
        }
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--datatrove-python", default=sys.executable, help="python of a venv with datatrove 0.10")
    ap.add_argument("--limit-mb", type=float, default=None, help="use only the first N MB of text")
    ap.add_argument("--json", type=Path, default=None, help="also write the full report here")
    ap.add_argument("--side", choices=["ours", "datatrove"], help=argparse.SUPPRESS)
    ap.add_argument("--docs", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        child(args.side, args.docs, args.out, args.workdir)
        return

    sys.path.insert(0, str(REPO))
    from data_prep.steps.normalize import Normalize

    raw = read_corpus(args.corpus, int(args.limit_mb * 1e6) if args.limit_mb else None)
    norm = Normalize()
    docs = []
    for d in raw:
        text, reason = norm.normalize(d["text"], norm.params.default)
        if reason is None:
            docs.append({"id": str(d["id"]), "text": text})
    n_bytes = sum(len(d["text"].encode("utf-8")) for d in docs)
    with tempfile.TemporaryDirectory() as tmp:
        docs_path = os.path.join(tmp, "docs.jsonl")
        with open(docs_path, "w", encoding="utf-8") as f:
            for d in docs:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
        results = {}
        for side, python in (("ours", sys.executable), ("datatrove", args.datatrove_python)):
            out = os.path.join(tmp, f"{side}.json")
            cmd = [python, __file__, "--corpus", str(args.corpus), "--side", side]
            cmd += ["--docs", docs_path, "--out", out, "--workdir", tmp]
            env = {**os.environ, "OMP_NUM_THREADS": "1", "RAYON_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
            subprocess.run(cmd, check=True, env=env)
            with open(out, encoding="utf-8") as f:
                results[side] = json.load(f)

    mb = n_bytes / 1e6
    ours_mbs = mb / results["ours"]["seconds"]
    dt_mbs = mb / results["datatrove"]["seconds"]
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cpus, Python {platform.python_version()}",
        "corpus": str(args.corpus),
        "docs": len(docs),
        "mb": round(mb, 2),
        "ours_s": round(results["ours"]["seconds"], 2),
        "datatrove_s": round(results["datatrove"]["seconds"], 2),
        "ours_mb_s_core": round(ours_mbs, 3),
        "datatrove_mb_s_core": round(dt_mbs, 3),
        "speedup": round(ours_mbs / dt_mbs, 2),
        "languages": Counter(results["ours"]["langs"].values()).most_common(),
        "agreement": agreement(results["ours"], results["datatrove"]),
    }
    print(f"corpus {report['corpus']}: {report['docs']} docs, {report['mb']} MB")
    print(f"ours       {report['ours_s']:8.2f} s  {report['ours_mb_s_core']:.3f} MB/s/core")
    print(f"datatrove  {report['datatrove_s']:8.2f} s  {report['datatrove_mb_s_core']:.3f} MB/s/core")
    print(f"speedup    {report['speedup']:.2f}x")
    for name, a in report["agreement"].items():
        print(
            f"  {name:18s} docs {a['docs']:6d}  agree {a['agree'] * 100:6.2f}%  kept ours {a['kept_ours']} "
            f"datatrove {a['kept_datatrove']}  top disagreements {a['disagreements'][:4]}"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
