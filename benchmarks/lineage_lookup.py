"""Lineage lookup over a 1 B-token run: `llm-train data lineage RUN --id ID` and `--step N`, timed.

Builds, under --work, a synthetic packed blend of two datasets (document lengths drawn log-normal,
the .bin left sparse: lineage never reads tokens), the document maps `llm-train pack` writes, and the
run's sample order with megatron-core's own BlendedMegatronDatasetBuilder (the cache the trainer
leaves in RUN_DIR/data_index), plus metrics.jsonl and ready checkpoints for a run that consumed
every sample. Then it times the CLI end to end (a fresh process each time: imports included) and,
side by side, what answering the same question takes without the map and the cached order:
asking megatron-core's GPTDataset for the documents of every consumed sample
(`_query_document_sample_shuffle_indices`, the only per-sample document view megatron-core has).

    .venv/bin/python benchmarks/lineage_lookup.py --tokens 1e9 --work /tmp/lineage-bench
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LANGS = ("de", "fr")


def build_pack(packed: Path, tokens: int, seed: int) -> list[str]:
    from data_prep.document import Document
    from data_prep.pack.docmap import DocListWriter, build_docmap
    from data_prep.pack.indexed import _pointers, _write_index

    rng = np.random.default_rng(seed)
    packed.mkdir(parents=True, exist_ok=True)
    prefixes = []
    for lang in LANGS:
        prefix = packed / f"{lang}_text_document"
        need = tokens // len(LANGS)
        lengths = []
        while sum(map(len, lengths)) == 0 or int(np.sum(np.concatenate(lengths))) < need:
            lengths.append(np.clip(rng.lognormal(6.5, 1.0, 200_000), 16, 32_000).astype(np.int32))
        lengths = np.concatenate(lengths)
        lengths = lengths[: int(np.searchsorted(np.cumsum(lengths, dtype=np.int64), need)) + 1]
        dtype = np.dtype(np.uint16)
        _write_index(Path(f"{prefix}.idx"), dtype, [lengths], [_pointers(lengths, 2)], len(lengths))
        with open(f"{prefix}.bin", "wb") as fh:  # sparse: lineage reads lengths, never tokens
            fh.truncate(int(lengths.sum(dtype=np.int64)) * 2)
        part = packed / ".bench" / lang
        writer = DocListWriter(part)
        for i in range(len(lengths)):
            url = f"https://site{i % 20_000}.example.{lang}/page/{i}"
            writer.add(Document(f"{lang}-{i:09d}", "", lang, f"crawl-{lang}-{i % 7}", url, {}))
        writer.finish()
        build_docmap(
            [part], prefix, {"lang": lang, "corpus": str(packed / "clean"), "corpus_stats_sha256": None}
        )
        prefixes.append(str(prefix))
    return prefixes


def build_run(run: Path, prefixes: list[str], tokens: int, seq: int, batch: int) -> tuple[int, int]:
    import torch.distributed as dist
    from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
    from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig
    from tokenizers import Tokenizer, models

    from llm_train.data.tokenizer import PackedDataTokenizer

    samples = tokens // seq
    steps = samples // batch
    dist.init_process_group("gloo", init_method=f"file://{run.parent}/pg", rank=0, world_size=1)
    config = GPTDatasetConfig(
        random_seed=1234,
        sequence_length=seq,
        blend=(prefixes, [0.5] * len(prefixes)),
        split="99,1,0",
        path_to_cache=str(run / "data_index"),
        tokenizer=PackedDataTokenizer(32_000, 2, Tokenizer(models.BPE()), path="synthetic"),
        reset_position_ids=False,
        reset_attention_mask=False,
        eod_mask_loss=False,
        create_attention_mask=False,
    )
    BlendedMegatronDatasetBuilder(GPTDataset, [samples, 0, 0], lambda: True, config).build()
    dist.destroy_process_group()
    (run / "config.yaml").write_text(
        json.dumps({"data": {"index_cache": None}, "train": {"seq_length": seq}})
    )
    lines = [{"time": 0.0, "step": 0, "event": "start", "consumed_samples": 0}]
    lines += [
        {
            "time": float(s),
            "step": s,
            "context": {"subset": "train"},
            "metrics": {"consumed_samples": s * batch},
        }
        for s in range(10, steps + 1, 10)
    ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    last = (steps // 10) * 10
    ckpts = run / "checkpoints"
    for step in [*range(500, last + 1, 500), last]:
        (ckpts / f"step-{step}").mkdir(parents=True, exist_ok=True)
        state = {
            "step": step,
            "data": {"consumed_samples": step * batch},
            "trainer": {"written_with": {"data_samples": samples}},
        }
        (ckpts / f"step-{step}" / "trainer_state.json").write_text(json.dumps(state))
        (ckpts / f"step-{step}.ready.json").write_text(json.dumps({"step": step}))
    return samples, last


def timed(argv: list[str], repeat: int) -> tuple[float, float, str]:
    """Median wall seconds of `llm-train ARGV` in a fresh process, its peak RSS (MB, by GNU time:
    a forked child's own rusage would count this benchmark's memory too), its stdout."""
    times, rss, out = [], 0.0, ""
    cmd = [sys.executable, "-m", "llm_train.cli.main", *argv]
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "maxrss_kb=%M", *cmd], capture_output=True, text=True, cwd=REPO
        )
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-2000:])
        rss = max(rss, int(proc.stderr.rsplit("maxrss_kb=", 1)[1].split()[0]) / 1024)
        out = proc.stdout
    return statistics.median(times), rss, out


def megatron_scan(
    run: Path, prefixes: list[str], seq: int, samples: int, want: tuple[int, int], limit: int
) -> tuple[float, int]:
    """Seconds to find the samples holding one document by asking megatron-core sample by sample."""
    import torch.distributed as dist
    from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
    from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig
    from tokenizers import Tokenizer, models

    from llm_train.data.tokenizer import PackedDataTokenizer

    dist.init_process_group("gloo", init_method=f"file://{run.parent}/pg2", rank=0, world_size=1)
    config = GPTDatasetConfig(
        random_seed=1234,
        sequence_length=seq,
        blend=(prefixes, [0.5] * len(prefixes)),
        split="99,1,0",
        path_to_cache=str(run / "data_index"),
        tokenizer=PackedDataTokenizer(32_000, 2, Tokenizer(models.BPE()), path="synthetic"),
        reset_position_ids=False,
        reset_attention_mask=False,
        eod_mask_loss=False,
        create_attention_mask=False,
    )
    blend = BlendedMegatronDatasetBuilder(GPTDataset, [samples, 0, 0], lambda: True, config).build()[0]
    k_want, doc_want = want
    start = time.perf_counter()
    hits = 0
    n = min(samples, limit)
    for x in range(n):
        k, j = int(blend.dataset_index[x]), int(blend.dataset_sample_index[x])
        _, docs = blend.datasets[k]._query_document_sample_shuffle_indices(j)
        hits += k == k_want and doc_want in docs
    return time.perf_counter() - start, n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=float, default=1e9)
    ap.add_argument("--seq-length", type=int, default=2048)
    ap.add_argument("--global-batch", type=int, default=256)
    ap.add_argument("--work", default="/tmp/lineage-bench")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--baseline-samples", type=int, default=100_000, help="megatron scan: samples timed (then scaled)"
    )
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    work = Path(args.work)
    packed, run = work / "packed", work / "runs" / "bench" / "r"
    tokens = int(args.tokens)
    t0 = time.perf_counter()
    if not (run / "metrics.jsonl").is_file():
        prefixes = build_pack(packed, tokens, seed=1)
        run.mkdir(parents=True, exist_ok=True)
        samples, last = build_run(run, prefixes, tokens, args.seq_length, args.global_batch)
    else:
        prefixes = [str(packed / f"{lang}_text_document") for lang in LANGS]
        samples = tokens // args.seq_length
        last = (samples // args.global_batch // 10) * 10
    build_s = time.perf_counter() - t0
    from llm_train.lineage.docmap import DocMap

    docs = sum(DocMap.for_prefix(p).documents for p in prefixes)
    # A document read late in the run: the ids of the last step's documents.
    rev_s, rev_rss, rev_out = timed(["data", "lineage", str(run), "--step", str(last), "--json"], args.repeat)
    step_docs = json.loads(rev_out)[0]["documents"]
    target = step_docs[len(step_docs) // 2]
    fwd_s, fwd_rss, fwd_out = timed(
        ["data", "lineage", str(run), "--id", target["doc_id"], "--json"], args.repeat
    )
    traced = json.loads(fwd_out)[0]["documents"][0]
    assert last in {r["step"] for r in traced["readings"]}, traced
    url_s, _, _ = timed(["data", "lineage", str(run), "--url", target["url"]], args.repeat)
    scan_s, scanned = megatron_scan(
        run,
        prefixes,
        args.seq_length,
        samples,
        (target["ref"]["dataset"], target["ref"]["index"]),
        args.baseline_samples,
    )
    full_scan_s = scan_s * samples / scanned
    figures = {
        "tokens": tokens,
        "documents": docs,
        "samples": samples,
        "steps": last,
        "checkpoints": len(list((run / "checkpoints").glob("*.ready.json"))),
        "build_s": round(build_s, 1),
        "forward_id_s": round(fwd_s, 2),
        "forward_url_s": round(url_s, 2),
        "reverse_step_s": round(rev_s, 2),
        "cli_peak_rss_mb": round(max(fwd_rss, rev_rss), 0),
        "index_mb": round(sum(f.stat().st_size for f in (run / "data_index").iterdir()) / 1e6, 1),
        "docmap_mb": round(
            sum(f.stat().st_size for p in prefixes for f in Path(f"{p}.docmap").iterdir()) / 1e6, 1
        ),
        "megatron_scan_samples_timed": scanned,
        "megatron_scan_s_per_1k_samples": round(scan_s / scanned * 1000, 3),
        "megatron_scan_full_run_s_estimated": round(full_scan_s, 1),
        "first_step_of_traced_doc": traced["first_step"],
    }
    print(json.dumps(figures, indent=2))
    print(
        f"lineage over {tokens / 1e9:.2f} B tokens ({docs:,} documents, {samples:,} samples, {last} steps): "
        f"--id {fwd_s:.2f} s, --url {url_s:.2f} s, --step {rev_s:.2f} s (fresh process each, peak RSS "
        f"{figures['cli_peak_rss_mb']:.0f} MB); megatron-core sample-by-sample scan: ~{full_scan_s:.0f} s for the run"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
