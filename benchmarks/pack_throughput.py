#!/usr/bin/env python3
"""Pack throughput: our `llm-train pack` vs datatrove's MegatronDocumentTokenizer, same corpus and
tokenizer, one run. Reports MB/s and tokens/s per worker (wall clock and per CPU-second), the
scaling from 1 to N workers and the peak RSS of each process tree.

    python benchmarks/pack_throughput.py --raw data/sample --workers 1,2
    python benchmarks/pack_throughput.py --corpus CLEAN_DIR --tokenizer TOK_DIR --workers 1,2
    python benchmarks/pack_throughput.py --raw data/sample --rss-mb 1000     # RSS on a 1 GB corpus

--raw takes a raw corpus (*.jsonl.gz/.zst lines with meta.declared_lang) and lays it out as a
clean corpus by declared language (no filtering: this measures packing only). Without
--tokenizer one is trained with `llm-train tokenizer` (32k vocab). datatrove comes from the
`bench` extra. Per-CPU-second rates are the ones to compare on a shared machine: wall-clock
rates fall when other processes compete for the cores.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import psutil
import zstandard

REPO = Path(__file__).resolve().parents[1]
FILE_TEXT_BYTES = 2_000_000  # split each language into files of ~2 MB text: units of parallel work


def open_lines(path: Path):
    raw = path.open("rb")
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.GzipFile(fileobj=raw), encoding="utf-8")
    if path.name.endswith(".zst"):
        return io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(raw), encoding="utf-8")
    return io.TextIOWrapper(raw, encoding="utf-8")


def layout_raw(raw: Path, out: Path, max_mb: float, repeat_to_mb: float = 0.0) -> int:
    """Clean-corpus layout by declared language; with repeat_to_mb, documents are repeated (new ids)."""
    by_lang: dict[str, list[dict]] = defaultdict(list)
    total = 0
    for path in sorted(p for p in raw.iterdir() if p.name.endswith((".jsonl", ".jsonl.gz", ".jsonl.zst"))):
        with open_lines(path) as lines:
            for line in lines:
                doc = json.loads(line)
                lang = str((doc.get("meta") or {}).get("declared_lang") or doc.get("lang") or "xx")
                lang = lang.replace("_", "-").split("-")[0].lower()
                if total >= max_mb * 1e6:
                    break
                doc["lang"] = lang
                by_lang[lang].append(doc)
                total += len(doc["text"].encode("utf-8"))
    target = max(repeat_to_mb * 1e6, total)
    copies = max(1, round(target / total))
    comp = zstandard.ZstdCompressor(level=3)
    written = 0
    for lang, docs in sorted(by_lang.items()):
        part, size, index = [], 0, 0

        def flush(part=None, index=0, lang=lang):
            path = out / lang / "train" / f"part-{index:05d}.jsonl.zst"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(comp.compress("".join(part).encode("utf-8")))

        for copy in range(copies):
            for doc in docs:
                item = dict(doc, id=f"{doc['id']}-{copy}")
                part.append(json.dumps(item, ensure_ascii=False) + "\n")
                size += len(doc["text"].encode("utf-8"))
                if size >= FILE_TEXT_BYTES:
                    flush(part, index)
                    written += size
                    part, size, index = [], 0, index + 1
        if part:
            flush(part, index)
            written += size
    return written


def poll_tree(proc: subprocess.Popen) -> tuple[int, int, dict[int, float]]:
    """Until `proc` exits: peak RSS summed over its tree, peak RSS of one process, CPU s per pid."""
    peak_tree = peak_single = 0
    cpu: dict[int, float] = {}
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        rss = []
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            procs = []
        for p in procs:
            try:
                with p.oneshot():
                    rss.append(p.memory_info().rss)
                    times = p.cpu_times()
                    cpu[p.pid] = times.user + times.system
            except psutil.Error:
                pass
        peak_tree = max(peak_tree, sum(rss))
        peak_single = max(peak_single, max(rss, default=0))
        time.sleep(0.05)
    return peak_tree, peak_single, cpu


def run_measured(cmd: list[str], env: dict | None = None) -> dict:
    """Run a command; wall time, CPU seconds summed over its process tree, peak summed RSS.

    CPU is polled per process (psutil) rather than taken from RUSAGE_CHILDREN, which misses
    pool workers their parent never waits for.
    """
    # A file, not a pipe: a child that logs more than a pipe holds would block on it while the
    # polling loop, which reads only after the exit, waits for it (datatrove does on 150 MB).
    with tempfile.TemporaryFile(mode="w+") as log:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        peak_tree, peak_single, cpu = poll_tree(proc)
        log.seek(0)
        output = log.read()
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{output[-3000:]}")
    return {
        "wall_s": wall,
        "cpu_s": sum(cpu.values()),
        "peak_rss_tree_mb": peak_tree / 2**20,
        "peak_rss_proc_mb": peak_single / 2**20,
        "output": output,
    }


def datatrove_child(args) -> None:
    """Runs in a subprocess: datatrove's reader + MegatronDocumentTokenizer over the corpus."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.tokens.megatron_tokenizer import MegatronDocumentTokenizer

    files = sorted(Path(args.dt_corpus).glob("*/train/*.jsonl.zst"))
    executor = LocalPipelineExecutor(
        pipeline=[
            JsonlReader(args.dt_corpus, glob_pattern="*/train/*.jsonl.zst", compression="zstd"),
            MegatronDocumentTokenizer(
                output_folder=args.dt_output,
                tokenizer_name_or_path=str(Path(args.dt_tokenizer) / "tokenizer.json"),
                eos_token="</s>",
            ),
        ],
        tasks=len(files),
        workers=args.dt_workers,
        logging_dir=str(Path(args.dt_output) / "logs"),
        skip_completed=False,
    )
    executor.run()


def measure_ours(corpus: Path, tok: Path, out: Path, workers: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [
        sys.executable,
        "-m",
        "llm_train.cli.main",
        "pack",
        "--corpus",
        str(corpus),
        "--tokenizer",
        str(tok),
    ]
    result = run_measured([*cmd, "--output", str(out), "--workers", str(workers)])
    stats = json.loads((out / "pack_stats.json").read_text())
    result["text_bytes"] = stats["text_bytes"]
    result["tokens"] = sum(d["tokens"] for d in stats["datasets"].values())
    return result


def measure_datatrove(
    corpus: Path, tok: Path, out: Path, workers: int, text_bytes: int, python: str = sys.executable
) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", RAYON_NUM_THREADS="1")
    cmd = [
        python,
        __file__,
        "--datatrove-child",
        "--dt-corpus",
        str(corpus),
        "--dt-tokenizer",
        str(tok),
    ]
    result = run_measured([*cmd, "--dt-output", str(out), "--dt-workers", str(workers)], env=env)
    result["text_bytes"] = text_bytes
    result["tokens"] = sum(p.stat().st_size for p in out.glob("*.bin")) // 2
    return result


def rates(r: dict, workers: int) -> dict:
    mb = r["text_bytes"] / 1e6
    return {
        "mb_s_per_worker": mb / r["wall_s"] / workers,
        "ktok_s_per_worker": r["tokens"] / r["wall_s"] / workers / 1e3,
        "mb_per_cpu_s": mb / r["cpu_s"],
        "ktok_per_cpu_s": r["tokens"] / r["cpu_s"] / 1e3,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--raw", type=Path, help="raw corpus dir (meta.declared_lang) to lay out as a clean corpus"
    )
    p.add_argument("--corpus", type=Path, help="clean corpus dir (<lang>/train/*.jsonl.zst)")
    p.add_argument("--tokenizer", type=Path, help="tokenizer dir (default: train one, 32k vocab)")
    p.add_argument("--work", type=Path, default=REPO / "runs" / "bench-pack")
    p.add_argument("--workers", default="1,2")
    p.add_argument("--max-mb", type=float, default=1e9, help="cap on raw text taken from --raw")
    p.add_argument(
        "--rss-mb",
        type=float,
        default=0,
        help="also pack a corpus of this many MB (docs repeated) for peak RSS",
    )
    p.add_argument("--no-datatrove", action="store_true")
    # datatrove 0.10 pins huggingface-hub>=1.6, which transformers<5 refuses: it lives in its own venv.
    p.add_argument("--datatrove-python", default=sys.executable, help="python of a venv with datatrove 0.10")
    p.add_argument("--json", type=Path, help="write all measurements here")
    p.add_argument("--datatrove-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--dt-corpus", help=argparse.SUPPRESS)
    p.add_argument("--dt-tokenizer", help=argparse.SUPPRESS)
    p.add_argument("--dt-output", help=argparse.SUPPRESS)
    p.add_argument("--dt-workers", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.datatrove_child:
        datatrove_child(args)
        return

    args.work.mkdir(parents=True, exist_ok=True)
    corpus = args.corpus
    if corpus is None:
        if args.raw is None:
            raise SystemExit("give --corpus or --raw")
        corpus = args.work / "corpus"
        shutil.rmtree(corpus, ignore_errors=True)
        layout_raw(args.raw, corpus, args.max_mb)
    tok = args.tokenizer
    if tok is None:
        tok = args.work / "tokenizer"
        if not (tok / "tokenizer.json").is_file():
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "llm_train.cli.main",
                    "tokenizer",
                    "--corpus",
                    str(corpus),
                    "--output",
                    str(tok),
                    "--vocab-size",
                    "32000",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )

    workers = [int(w) for w in args.workers.split(",")]
    results = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores", "runs": []}
    for w in workers:
        load = os.getloadavg()[0]
        ours = measure_ours(corpus, tok, args.work / f"ours-w{w}", w)
        results["runs"].append(
            {"tool": "llm-train pack", "workers": w, "load_before": load, **ours, **rates(ours, w)}
        )
        if not args.no_datatrove:
            load = os.getloadavg()[0]
            dt = measure_datatrove(
                corpus, tok, args.work / f"datatrove-w{w}", w, ours["text_bytes"], args.datatrove_python
            )
            results["runs"].append(
                {"tool": "datatrove", "workers": w, "load_before": load, **dt, **rates(dt, w)}
            )
    if args.rss_mb:
        big = args.work / "corpus-rss"
        shutil.rmtree(big, ignore_errors=True)
        layout_raw(args.raw, big, args.max_mb, repeat_to_mb=args.rss_mb) if args.raw else None
        # Every worker count on the large corpus too: the small one is dominated by start-up,
        # so this is where 1 -> N worker scaling shows.
        results["rss_runs"] = []
        for w in workers:
            ours = measure_ours(big, tok, args.work / "ours-rss", w)
            results["rss_runs"].append(
                {"tool": "llm-train pack (large)", "workers": w, **ours, **rates(ours, w)}
            )
            shutil.rmtree(args.work / "ours-rss", ignore_errors=True)
        shutil.rmtree(big, ignore_errors=True)

    print(f"corpus {corpus}: {results['runs'][0]['text_bytes'] / 1e6:.1f} MB text; {results['machine']}")
    header = f"{'tool':<16}{'workers':>8}{'wall s':>8}{'MB/s/wkr':>10}{'ktok/s/wkr':>11}{'MB/cpu-s':>10}{'ktok/cpu-s':>11}{'peak RSS MB':>12}{'load':>6}"
    print(header)
    for r in results["runs"] + results.get("rss_runs", []):
        print(
            f"{r['tool']:<16}{r['workers']:>8}{r['wall_s']:>8.1f}{r['mb_s_per_worker']:>10.2f}{r['ktok_s_per_worker']:>11.0f}"
            f"{r['mb_per_cpu_s']:>10.2f}{r['ktok_per_cpu_s']:>11.0f}{r['peak_rss_tree_mb']:>12.0f}{r.get('load_before', 0):>6.1f}"
        )
    if args.json:
        for r in results["runs"] + results.get("rss_runs", []):
            r.pop("output", None)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
