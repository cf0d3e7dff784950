"""Exit codes of `llm-train train` (the Slurm job scripts requeue on INTERRUPTED).

| code | name        | meaning                                                                 |
|------|-------------|-------------------------------------------------------------------------|
| 0    | OK          | training reached train.steps / train.tokens; final checkpoint written    |
| 1    | ERROR       | an error (traceback in the log); do not requeue blindly                 |
| 2    | CONFIG      | the config or the command line is invalid                                |
| 4    | DIVERGED    | the loss-spike policy ran out of rollbacks (train.spike.max_rollbacks)  |
| 124  | INTERRUPTED | SIGTERM/SIGUSR1 received; the step finished and a checkpoint was written:|
|      |             | requeue the job and it resumes from there (train.resume=auto)           |
"""

from __future__ import annotations

from llm_train.errors import ConfigError, LLMTrainError, TrainingInterrupted

OK = 0
ERROR = 1
CONFIG = ConfigError.exit_code
DIVERGED = 4
INTERRUPTED = TrainingInterrupted.exit_code


class TrainingDiverged(LLMTrainError):
    """Too many bad steps even after rolling back `max_rollbacks` times."""

    exit_code = DIVERGED
