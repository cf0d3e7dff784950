"""DeepSpeed checkpoints across a data-parallel change: the universal checkpoint conversion.

ZeRO 1-3 write the optimizer state (and at ZeRO-3 the weights) in one file per data-parallel rank,
cut for that world size; a job with another DP size cannot read them directly. DeepSpeed's own
`ds_to_universal` turns them into one file per parameter (fp32 weights, Adam moments, step), which
any DP size (and ZeRO stage) loads with `load_universal`. The conversion runs once per checkpoint,
on rank 0, into `<checkpoint>/deepspeed_universal/` (written under a temporary name and renamed, so
a killed conversion is redone, never half-read); every later resume at another DP size reuses it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import re
import shutil
from pathlib import Path

from llm_train import storage

log = logging.getLogger(__name__)
UNIVERSAL_TAG = "deepspeed_universal"
_OPTIM = re.compile(r"^(?:bf16_)?zero_pp_rank_(\d+)_mp_rank_\d+_optim_states\.pt$")


def saved_dp_size(tag_dir: Path) -> int | None:
    """Data-parallel ranks a ZeRO checkpoint was written by (None: no ZeRO partitions, ZeRO-0)."""
    ranks = {int(m.group(1)) for p in Path(tag_dir).iterdir() if (m := _OPTIM.match(p.name))}
    return len(ranks) or None


def convert(checkpoint: Path, tag: str) -> Path:
    """`<checkpoint>/<tag>` as a universal checkpoint (converted once); call on one rank."""
    from deepspeed.checkpoint import ds_to_universal

    out = Path(checkpoint) / UNIVERSAL_TAG
    if (out / "zero").is_dir():
        return out
    tmp = Path(checkpoint) / f".{UNIVERSAL_TAG}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    args = argparse.Namespace(
        input_folder=str(Path(checkpoint) / tag),
        output_folder=str(tmp),
        num_extract_workers=1,
        num_merge_workers=1,
        keep_temp_folder=False,
        strict=True,
        inject_missing_state=True,  # our client state carries no Megatron-DeepSpeed universal info
    )
    log.info("converting %s to a universal checkpoint for a data-parallel change", Path(checkpoint) / tag)
    with contextlib.redirect_stdout(io.StringIO()):  # the converter prints every step
        ds_to_universal.main(args)
    for path in [tmp, *tmp.rglob("*")]:
        storage.fix_mode(path)
    tmp.rename(out)
    return out
