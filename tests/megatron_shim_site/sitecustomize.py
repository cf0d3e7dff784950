"""Applies the test-only megatron CPU shim in processes that tests do not start themselves.

`llm-train train` spawns its own rank processes; a test that runs it with the megatron backend on
CPU puts this directory on PYTHONPATH and sets LLM_TRAIN_TEST_CPU_SHIM=1, and Python imports this
module at start-up in every such process. Without the variable it does nothing.
"""

import os

if os.environ.get("LLM_TRAIN_TEST_CPU_SHIM") == "1":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # repository root, for `tests.`
    from tests import megatron_cpu_shim

    megatron_cpu_shim.apply()
