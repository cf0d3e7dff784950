"""`python -m evals.lm_eval_cli ...`: lm-eval's own command line with the `llm_train` model registered.

Same arguments as `lm_eval` (e.g. `run --model llm_train --model_args checkpoint=RUN_DIR --tasks T
--include_path DIR`). Runs offline: set HF_DATASETS_OFFLINE=1 and use tasks that read local files.
"""

from __future__ import annotations


def main() -> None:
    from lm_eval.__main__ import cli_evaluate

    import evals.lm_eval_backend  # noqa: F401  (registers the model type)

    cli_evaluate()


if __name__ == "__main__":
    main()
