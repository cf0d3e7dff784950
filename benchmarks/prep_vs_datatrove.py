"""Side-by-side: our per-document steps vs datatrove 0.10 on the same documents, one core each.

    python benchmarks/prep_vs_datatrove.py --corpus bench=data/bench --corpus heldout=data/heldout \\
        --datatrove-python .venv-bench/bin/python --repeat 2 --json prep.json --disagreements prep.jsonl

Both pipelines, in the order of configs/data/prep-default.yaml: language ID -> Gopher repetition ->
Gopher quality -> C4 -> FineWeb quality -> PII -> MinHash signatures. Language ID is heliport on
both sides (datatrove's LanguageFilter downloads a fastText model): ours is our `langid` step as
configured by default; datatrove's side makes one heliport call per document, as its LanguageFilter
makes one fastText call. datatrove's filters get the document's language (its spaCy tokenizer for
that language) and our stop-word list, as a per-language (FineWeb-2 style) config would. Ours also
runs `normalize` first, and chains its steps as `prep` does (each step on bursts of documents:
`pipeline.step.run_steps`); datatrove's run as its pipeline runs them. Each side runs in its own
process pinned to the same single CPU, on the same pre-normalized documents held in memory; the time
is the pipeline only (no reading or writing of the corpus). Both sides run `--repeat` times,
alternating.

Reported per corpus: MB/s per core (UTF-8 bytes of input text) of every run, the ratio of the
best runs, the load average while each side ran, and the keep/drop agreement of every filter,
overall and per language, on the documents that reached the filter on both sides. Every
disagreeing document goes to the --disagreements JSONL with both decisions and the statistics
each side computed on it (benchmarks/filter_stats.py: the same arithmetic, each side's words).

datatrove 0.10 pins huggingface-hub>=1.6 and trafilatura<1.12, which conflict with this project's
transformers and trafilatura, so it lives in its own virtualenv (`make bench` builds it):
pass its python with --datatrove-python.
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
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

FILTERS = ["langid", "gopher_repetition", "gopher_quality", "c4", "fineweb_quality"]
MIN_LANG_DOCS = 200  # languages with fewer documents are listed but not held to the target


def open_text(path: Path):
    if path.name.endswith(".zst"):
        import zstandard

        return io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(path.open("rb")), encoding="utf-8")
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")  # noqa: SIM115  (closed by the caller's with)
    return path.open(encoding="utf-8")


def read_corpus(corpus: Path, limit_bytes: int | None, every: int = 1) -> list[dict]:
    docs, total, seen = [], 0, 0
    files = sorted(p for p in corpus.rglob("*") if p.name.endswith((".jsonl", ".jsonl.gz", ".jsonl.zst")))
    for path in files:
        with open_text(path) as fh:
            for line in fh:
                seen += 1
                if (seen - 1) % every:
                    continue
                obj = json.loads(line)
                docs.append(obj)
                total += len(obj["text"].encode("utf-8"))
                if limit_bytes and total >= limit_bytes:
                    return docs
    return docs


class StepClock:
    """Seconds spent in each step of a generator chain (a step's own time, without upstream's)."""

    def __init__(self):
        self.spent: dict[str, float] = defaultdict(float)

    def wrap(self, name: str, stream):
        clock = time.perf_counter
        it = iter(stream)
        while True:
            t = clock()
            try:
                doc = next(it)
            except StopIteration:
                self.spent[name] += clock() - t
                return
            self.spent[name] += clock() - t
            yield doc

    def exclusive(self, names: list[str]) -> dict[str, float]:
        # pulling a document through step k also runs steps < k: subtract what they took
        out, before = {}, 0.0
        for name in names[:-1]:
            out[name] = round(self.spent[name] - before, 2)
            before = self.spent[name]
        out[names[-1]] = round(self.spent["minhash_work"] + self.spent[names[-1]] - before, 2)
        return out


def tap(stream, entered: list):
    """Pass documents through, remembering each one (and the text it had) as it enters a step."""
    for doc in stream:
        entered.append((doc, doc.text))
        yield doc


def decisions_of(
    entered: dict[str, list], steps: dict, next_step: dict[str, str]
) -> dict[str, dict[str, str]]:
    """Per filter: "keep", or the drop reason, for every document that reached it.

    Reasons are recomputed after timing on the text the filter saw (a filter that drops does not
    edit the text); a filter returns True/False or (False, reason[, statistic]).
    """
    out = {}
    for name in FILTERS:
        passed = {id(doc) for doc, _ in entered[next_step[name]]}
        decided = {}
        for doc, text in entered[name]:
            if id(doc) in passed:
                decided[doc.id] = "keep"
                continue
            doc.text = text
            result = steps[name].filter(doc)
            decided[doc.id] = result[1] if isinstance(result, tuple) else "drop"
        out[name] = decided
    return out


# ---------------------------------------------------------------- our side (this venv)
def our_steps() -> dict:
    from data_prep.steps.c4 import C4QualityFilter
    from data_prep.steps.fineweb_quality import FineWebQualityFilter
    from data_prep.steps.gopher_quality import GopherQualityFilter
    from data_prep.steps.gopher_repetition import GopherRepetitionFilter
    from data_prep.steps.langid import LanguageId
    from data_prep.steps.normalize import Normalize
    from data_prep.steps.pii import PIIScrubber

    return {
        "normalize": Normalize(),
        "langid": LanguageId(),
        "gopher_repetition": GopherRepetitionFilter(),
        "gopher_quality": GopherQualityFilter(),
        "c4": C4QualityFilter(),
        "fineweb_quality": FineWebQualityFilter(),
        "pii": PIIScrubber(),
    }


def run_ours(docs_json: list[dict], decide: bool) -> dict:
    from data_prep.dedup.signatures import MinHashParams, SignatureBatch, shingle_hashes
    from data_prep.dedup.signatures import words as mh_words
    from data_prep.document import Document
    from data_prep.pipeline.step import bursts

    steps = our_steps()
    docs = [Document.from_json(d) for d in docs_json]
    entered: dict[str, list] = {name: [] for name in [*steps, "minhash"]}
    params = MinHashParams()
    clock = StepClock()
    t0, c0 = time.perf_counter(), time.process_time()
    stream = iter(docs)
    for name, step in steps.items():
        # chained as `prep` chains them (pipeline.step.run_steps): each step on bursts of documents
        stream = clock.wrap(name, step.run(tap(bursts(stream), entered[name])))
    batch, n_sigs = SignatureBatch(params), 0
    for doc in clock.wrap("minhash", tap(stream, entered["minhash"])):
        t = time.perf_counter()
        batch.add(shingle_hashes(mh_words(doc.text), params.ngram))
        if len(batch) >= 1024:
            n_sigs += len(batch.bands())
        clock.spent["minhash_work"] += time.perf_counter() - t
    t = time.perf_counter()
    n_sigs += len(batch.bands())
    clock.spent["minhash_work"] += time.perf_counter() - t
    result = {
        "seconds": time.perf_counter() - t0,
        "cpu_seconds": time.process_time() - c0,
        "signatures": n_sigs,
        "step_seconds": clock.exclusive([*steps, "minhash"]),
    }
    if decide:
        order = [*FILTERS, "pii"]
        result["decisions"] = decisions_of(entered, steps, dict(zip(order, order[1:], strict=False)))
        result["langs"] = {d.id: d.lang for d in docs}
        result["scores"] = {d.id: d.meta.get("lang_score") for d in docs}
    return result


def our_stats(lang: str | None):
    from data_prep.resources import stop_words
    from data_prep.steps.text_stats import PUNCTUATION, TERMINAL_PUNCTUATION, sentences, words

    return {
        "words": lambda t: words(t, lang),
        "sentences": lambda line: sentences(line, lang),
        "stop_words": stop_words(lang) if lang else frozenset(),
        "punctuation": PUNCTUATION,
        "terminal": TERMINAL_PUNCTUATION,
    }


# ---------------------------------------------------------------- datatrove side (its venv)
def datatrove_tokenizer(lang: str):
    from datatrove.utils.word_tokenizers import SpaCyTokenizer

    # Maltese's assigned tokenizer (stanza) downloads a model: spaCy's multilingual one instead.
    return SpaCyTokenizer("xx") if lang == "mt" else lang


def run_datatrove(docs_json: list[dict], workdir: str, decide: bool) -> dict:
    from datatrove.data import Document as DTDocument
    from datatrove.pipeline.dedup.minhash import MinhashDedupSignature
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.pipeline.filters.base_filter import BaseFilter as DTFilter
    from datatrove.pipeline.formatters import PIIFormatter

    from data_prep.resources import stop_words
    from data_prep.steps.langid import LanguageId

    class HeliportLanguageFilter(DTFilter):
        """heliport inside datatrove: one identification per document, as its LanguageFilter."""

        name = "heliport LID"

        def __init__(self):
            super().__init__()
            self.lid = LanguageId(max_chars=20_000)

        def filter(self, doc):
            lang, score = self.lid.identify(doc.text)
            doc.metadata["language"], doc.metadata["language_score"] = lang, score
            if lang == "und":
                return False, "langid_low_score"
            return True if lang in self.lid.keep else (False, "langid_not_kept")

    class PerLanguage(DTFilter):
        """One datatrove filter instance per document language, as per-language configs do."""

        def __init__(self, make, name):
            super().__init__()
            self.make, self.name, self.filters = make, name, {}

        def filter(self, doc):
            lang = doc.metadata["language"]
            if lang not in self.filters:
                self.filters[lang] = self.make(lang, datatrove_tokenizer(lang))
            return self.filters[lang].filter(doc)

    steps = {
        "langid": HeliportLanguageFilter(),
        "gopher_repetition": PerLanguage(lambda lang, tok: GopherRepetitionFilter(language=tok), "rep"),
        "gopher_quality": PerLanguage(
            lambda lang, tok: GopherQualityFilter(language=tok, stop_words=sorted(stop_words(lang))),
            "quality",
        ),
        "c4": PerLanguage(lambda lang, tok: C4QualityFilter(language=tok), "c4"),
        "fineweb_quality": PerLanguage(lambda lang, tok: FineWebQualityFilter(language=tok), "fineweb"),
        "pii": PIIFormatter(),
    }
    minhash = MinhashDedupSignature(output_folder=os.path.join(workdir, "dt-sigs"))
    docs = [DTDocument(text=d["text"], id=d["id"], metadata={}) for d in docs_json]
    entered: dict[str, list] = {name: [] for name in [*steps, "minhash"]}
    t0, c0 = time.perf_counter(), time.process_time()
    stream = iter(docs)
    for name, step in steps.items():
        stream = step.run(tap(stream, entered[name]), rank=0, world_size=1)
    minhash.run(tap(stream, entered["minhash"]), rank=0, world_size=1)
    result = {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}
    # datatrove times each filter's own work (its track_time around every call); the MinHash
    # step's clock also runs while it pulls documents through the steps before it
    own = {name: step.stats.time_stats.total for name, step in steps.items()}
    own["minhash"] = minhash.stats.time_stats.total - sum(own.values())
    result["step_seconds"] = {name: round(t, 2) for name, t in own.items()}
    if decide:
        order = [*FILTERS, "pii"]
        result["decisions"] = decisions_of(entered, steps, dict(zip(order, order[1:], strict=False)))
        result["langs"] = {d.id: d.metadata.get("language") for d in docs}
        result["scores"] = {d.id: d.metadata.get("language_score") for d in docs}
    return result


def datatrove_stats(lang: str | None):
    from datatrove.utils.text import (
        PUNCTUATION_SET,
        TERMINAL_PUNCTUATION,
        split_into_sentences,
        split_into_words,
    )

    from data_prep.resources import stop_words

    tok = datatrove_tokenizer(lang or "en")
    return {
        "words": lambda t: split_into_words(t, tok),
        "sentences": lambda line: len(split_into_sentences(line, tok)),
        "stop_words": stop_words(lang) if lang else frozenset(),
        "punctuation": frozenset(PUNCTUATION_SET),
        "terminal": tuple(TERMINAL_PUNCTUATION),
    }


def statistics(side: str, requests: list[dict], texts: dict[str, str]) -> dict[str, dict]:
    """The statistic of each (filter, document, language) request, computed with `side`'s splitting."""
    import filter_stats as fs

    tools = {}
    out = {}
    for req in requests:
        lang = req["lang"]
        if lang not in tools:
            tools[lang] = our_stats(lang) if side == "ours" else datatrove_stats(lang)
        t = tools[lang]
        text = texts[req["id"]]
        name = req["filter"]
        if name == "gopher_repetition":
            stat = fs.gopher_repetition(text, t["words"])
        elif name == "gopher_quality":
            stat = fs.gopher_quality(text, t["words"], t["stop_words"], t["punctuation"])
        elif name == "c4":
            stat = fs.c4(text, t["sentences"])
        else:
            stat = fs.fineweb_quality(fs.c4_text(text), t["words"], t["terminal"])
        out[f"{name}\0{req['id']}"] = stat
    return out


# ---------------------------------------------------------------- orchestration
def child(args) -> None:
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})  # one core, same for both sides
    with open(args.docs, encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    if args.stats:
        with open(args.stats, encoding="utf-8") as f:
            requests = json.load(f)
        result = statistics(args.side, requests, {d["id"]: d["text"] for d in docs})
    elif args.side == "ours":
        result = run_ours(docs, decide=args.decide)
    else:
        result = run_datatrove(docs, args.workdir, decide=args.decide)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f)


class LoadSampler:
    """The 1-minute load average, sampled every few seconds while a side runs."""

    def __init__(self, every: float = 5.0):
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)

    def _run(self, every: float) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(every):
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run_side(side: str, python: str, tmp: str, extra: list[str]) -> tuple[dict, list[float]]:
    out = os.path.join(tmp, f"{side}.json")
    cmd = [python, __file__, "--side", side, "--docs", os.path.join(tmp, "docs.jsonl"), "--out", out]
    cmd += ["--workdir", tmp, *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RAYON_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    with LoadSampler() as load:
        subprocess.run(cmd, check=True, env=env)
    with open(out, encoding="utf-8") as f:
        return json.load(f), load.samples


def agreement(ours: dict, theirs: dict) -> dict:
    report = {}
    for name in FILTERS:
        a, b = ours["decisions"][name], theirs["decisions"][name]
        common = sorted(a.keys() & b.keys())
        by_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for i in common:
            cell = by_lang[ours["langs"].get(i) or "und"]
            cell[0] += 1
            cell[1] += (a[i] == "keep") == (b[i] == "keep")
        same = sum(v[1] for v in by_lang.values())
        disagree = Counter((a[i], b[i]) for i in common if (a[i] == "keep") != (b[i] == "keep"))
        report[name] = {
            "docs": len(common),
            "agree": same / len(common) if common else 1.0,
            "kept_ours": sum(1 for i in common if a[i] == "keep"),
            "kept_datatrove": sum(1 for i in common if b[i] == "keep"),
            "disagreements": [[k[0], k[1], v] for k, v in disagree.most_common(8)],
            "by_lang": {lang: {"docs": n, "agree": s / n} for lang, (n, s) in sorted(by_lang.items())},
        }
    return report


def disagreements(ours: dict, theirs: dict) -> list[dict]:
    rows = []
    for name in FILTERS:
        a, b = ours["decisions"][name], theirs["decisions"][name]
        for i in sorted(a.keys() & b.keys()):
            if (a[i] == "keep") != (b[i] == "keep"):
                rows.append(
                    {
                        "filter": name,
                        "id": i,
                        "lang_ours": ours["langs"].get(i),
                        "lang_datatrove": theirs["langs"].get(i),
                        "ours": a[i],
                        "datatrove": b[i],
                    }
                )
    return rows


def add_statistics(rows: list[dict], ours: dict, theirs: dict, pythons: dict, tmp: str) -> None:
    """Fill in the statistic each side computed on each disagreeing document."""
    for row in rows:
        if row["filter"] == "langid":
            row["stat_ours"] = {"lang": row["lang_ours"], "score": ours["scores"].get(row["id"])}
            row["stat_datatrove"] = {"lang": row["lang_datatrove"], "score": theirs["scores"].get(row["id"])}
    for side, key in (("ours", "lang_ours"), ("datatrove", "lang_datatrove")):
        requests = [
            {"filter": r["filter"], "id": r["id"], "lang": r[key]} for r in rows if r["filter"] != "langid"
        ]
        if not requests:
            continue
        path = os.path.join(tmp, f"{side}-requests.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(requests, f)
        stats, _ = run_side(side, pythons[side], tmp, ["--stats", path])
        for r in rows:
            if r["filter"] != "langid":
                r[f"stat_{side}"] = stats.get(f"{r['filter']}\0{r['id']}")


def measure(name: str, corpus: Path, args) -> tuple[dict, list[dict]]:
    from data_prep.steps.normalize import Normalize

    raw = read_corpus(corpus, int(args.limit_mb * 1e6) if args.limit_mb else None, args.every)
    norm = Normalize()
    docs = []
    for d in raw:
        text, reason = norm.normalize(d["text"], norm.params.default)
        if reason is None:
            docs.append({"id": str(d["id"]), "text": text})
    mb = sum(len(d["text"].encode("utf-8")) for d in docs) / 1e6
    pythons = {"ours": sys.executable, "datatrove": args.datatrove_python}
    runs: dict[str, list[dict]] = {"ours": [], "datatrove": []}
    first: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "docs.jsonl"), "w", encoding="utf-8") as f:
            for d in docs:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
        for r in range(args.repeat):
            for side in ("ours", "datatrove"):
                result, load = run_side(side, pythons[side], tmp, ["--decide"] if r == 0 else [])
                first.setdefault(side, result)
                runs[side].append(
                    {
                        "seconds": round(result["seconds"], 2),
                        "cpu_seconds": round(result["cpu_seconds"], 2),
                        "step_seconds": result["step_seconds"],
                        "mb_s_core": round(mb / result["seconds"], 3),
                        "load_avg": [
                            round(min(load), 2),
                            round(sum(load) / len(load), 2),
                            round(max(load), 2),
                        ],
                    }
                )
                print(
                    f"  {name} run {r + 1} {side:9s} {result['seconds']:8.2f} s  load {runs[side][-1]['load_avg']}"
                )
        rows = disagreements(first["ours"], first["datatrove"])
        add_statistics(rows, first["ours"], first["datatrove"], pythons, tmp)
    best = {side: min(run["seconds"] for run in runs[side]) for side in runs}
    best_cpu = {side: min(run["cpu_seconds"] for run in runs[side]) for side in runs}
    report = {
        "corpus": name,
        "path": str(corpus),
        "docs": len(docs),
        "mb": round(mb, 2),
        "runs": runs,
        "ours_mb_s_core": round(mb / best["ours"], 3),
        "datatrove_mb_s_core": round(mb / best["datatrove"], 3),
        "speedup": round(best["datatrove"] / best["ours"], 2),
        # CPU seconds of the pinned process: what each side costs when other jobs share the core
        "speedup_cpu": round(best_cpu["datatrove"] / best_cpu["ours"], 2),
        "languages": Counter(first["ours"]["langs"].values()).most_common(),
        "agreement": agreement(first["ours"], first["datatrove"]),
    }
    for row in rows:
        row["corpus"] = name
    return report, rows


def markdown(report: dict) -> str:
    lines = [
        f"### {report['corpus']} (`{report['path']}`): {report['docs']:,} docs, {report['mb']} MB",
        "",
        "| side | runs: wall s (cpu s) | best MB/s per core | load average (min/mean/max) |",
        "|---|---|---:|---|",
    ]
    for side in ("ours", "datatrove"):
        runs = report["runs"][side]
        loads = "; ".join("/".join(str(x) for x in run["load_avg"]) for run in runs)
        secs = ", ".join(f"{run['seconds']} ({run['cpu_seconds']})" for run in runs)
        lines.append(f"| {side} | {secs} | {report[f'{side}_mb_s_core']} | {loads} |")
    lines += [
        "",
        f"Speed ratio (best runs): **{report['speedup']}x** wall clock, {report['speedup_cpu']}x in CPU seconds",
        "",
    ]
    steps = {side: report["runs"][side][0]["step_seconds"] for side in ("ours", "datatrove")}
    names = [n for n in steps["datatrove"] if n in steps["ours"]]
    lines += ["| step (first run, s) | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for side in ("ours", "datatrove"):
        lines.append(f"| {side} | " + " | ".join(str(steps[side][n]) for n in names) + " |")
    lines += ["", "| filter | docs | agreement | kept ours | kept datatrove |", "|---|---:|---:|---:|---:|"]
    for name, a in report["agreement"].items():
        lines.append(
            f"| {name} | {a['docs']:,} | {a['agree'] * 100:.2f}% | {a['kept_ours']:,} | {a['kept_datatrove']:,} |"
        )
    langs = sorted({lang for a in report["agreement"].values() for lang in a["by_lang"]})
    lines += ["", "| lang | " + " | ".join(FILTERS) + " |", "|---|" + "---:|" * len(FILTERS)]
    for lang in langs:
        cells = []
        for name in FILTERS:
            cell = report["agreement"][name]["by_lang"].get(lang)
            if cell is None:
                cells.append("-")
            else:
                mark = "" if cell["docs"] >= MIN_LANG_DOCS else " (few)"
                cells.append(f"{cell['agree'] * 100:.2f}% of {cell['docs']:,}{mark}")
        lines.append(f"| {lang} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--corpus",
        action="append",
        required=False,
        help="NAME=DIR (or DIR) of *.jsonl[.gz|.zst]; repeat for several corpora, measured in turn",
    )
    ap.add_argument("--datatrove-python", default=sys.executable, help="python of a venv with datatrove 0.10")
    ap.add_argument("--limit-mb", type=float, default=None, help="use only the first N MB of text")
    ap.add_argument("--every", type=int, default=1, help="use every N-th document (a quick, mixed sample)")
    ap.add_argument("--repeat", type=int, default=2, help="timed runs of each side (alternating)")
    ap.add_argument("--json", type=Path, default=None, help="also write the full report here")
    ap.add_argument("--disagreements", type=Path, default=None, help="JSONL of every disagreeing document")
    ap.add_argument("--side", choices=["ours", "datatrove"], help=argparse.SUPPRESS)
    ap.add_argument("--docs", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    ap.add_argument("--stats", help=argparse.SUPPRESS)
    ap.add_argument("--decide", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        child(args)
        return
    if not args.corpus:
        ap.error("give at least one --corpus")
    reports, rows = [], []
    for spec in args.corpus:
        name, _, path = spec.rpartition("=")
        path = Path(path)
        report, bad = measure(name or path.name, path, args)
        reports.append(report)
        rows += bad
        print(markdown(report), "\n", flush=True)
    machine = f"{platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}"
    print(f"machine: {machine}; load average now {os.getloadavg()}")
    if args.json:
        args.json.write_text(
            json.dumps({"date": time.strftime("%Y-%m-%d"), "machine": machine, "corpora": reports}, indent=1)
        )
    if args.disagreements:
        with args.disagreements.open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{len(rows)} disagreeing documents -> {args.disagreements}")


if __name__ == "__main__":
    main()
