"""README.md is executable: every command of its fenced `bash` blocks runs, in order, in a temp dir.

The temp dir holds links to what the README's relative paths name (data/, configs/, scripts/,
Makefile, pyproject.toml, setup.py); `work/` and `runs/` are written there, as `make demo` writes them in a
checkout. Each command runs with bash as written, except:
    - a command marked `# not run by the README test: <reason>` is skipped and listed with its reason;
    - a command marked `# the README test runs this with --dry-run` runs with `--dry-run` appended;
    - a command that serves until stopped (`llm-train track ui`) is started, checked while it
      serves and stopped, leaving no process.
Where the README shows what a command prints or writes, the key lines (as regexes, numbers free)
and files are checked right after it runs. A command that fails names its README line.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers.aim_ui import socket_of, wait_served
from tests.readme_blocks import DRY_RUN, SKIP, Command, bash_commands

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BIN = Path(sys.executable).parent  # the venv's bin: `llm-train` resolves as in the README
# What the README's relative paths name, linked into the directory the commands run in.
LINKED = ("data", "configs", "scripts", "Makefile", "pyproject.toml", "setup.py")
# Commands that serve until stopped, and the text they print once they serve.
SERVED = {re.compile(r"^llm-train track ui\b"): "ssh -N -L"}
NUM = r"[\d,.]+"
BAR = r"[│┃|]"  # a table's column rule


class ReadmeFailure(AssertionError):
    pass


@dataclass
class Expect:
    """What the README says a command prints (regexes, each matching one line) and writes (globs)."""

    lines: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    served: Callable[[str], None] | None = None  # checked while a served command serves


def check_ui_socket(output: str) -> None:
    sock = socket_of(output)
    mode = sock.stat().st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600, oct(mode)
    assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700, oct(sock.parent.stat().st_mode)
    wait_served(sock)  # the UI answers its API on the socket


RUN = "runs/demo-cpu/demo"
# Keyed by a regex on the command as the README writes it.
EXPECT: dict[str, Expect] = {
    r"^make demo(\s|$)": Expect(lines=(r"^\S*python\S* scripts/demo\.py$",)),
    r"^make demo-slurm\b": Expect(lines=(r"^\S*python\S* scripts/demo\.py --slurm$",)),
    r"^llm-train prep --input data/sample/\S+ --output work/demo/clean\b": Expect(
        lines=(
            *(rf"^{BAR}\s*{step}\s+{BAR}" for step in ("read", "tdm", "normalize", "langid", "gopher_\\w+")),
            *(rf"^{BAR}\s*{step}\s+{BAR}" for step in ("c4", "fineweb_quality", "pii", "dedup", "write")),
            rf"^{BAR}\s*lang\s+{BAR}\s*docs\s+{BAR}",  # and one per language
            rf"^prep: \d+ shards, {NUM} docs in -> {NUM} out \({NUM} -> {NUM} MB\) in {NUM} s\b",
        ),
        files=(
            "work/demo/clean/*/train/*.jsonl.zst",
            "work/demo/clean/*/validation/*.jsonl.zst",
            "work/demo/clean/stats.json",
            "work/demo/clean/DATACARD.md",
            "work/demo/clean/README.md",
        ),
    ),
    r"^llm-train prep --input data/sample/\S+ --output work/audit\b.* output\.write_dropped=true$": Expect(
        lines=(rf"^prep: \d+ shards, {NUM} docs in -> {NUM} out",),
        files=(
            "work/audit/dropped/gopher_quality/gopher_below_alpha_ratio/part-*.jsonl.zst",
            "work/audit/DATACARD.md",
        ),
    ),
    r"^zstdcat work/audit/dropped/": Expect(
        lines=(
            r'^\{"id":"\w+","lang":"\w+","stat":\{"alpha_words_ratio":[\d.]+,"min_alpha_words_ratio":0\.5\},"text":',
        )
    ),
    r"^llm-train tokenizer\b": Expect(
        lines=(
            rf"\b[a-z]+: \d+ bytes in corpus, share {NUM}, rate {NUM} -> ~\d+ bytes",  # the sampling plan
            r"^lang\s+docs\s+words\s+tokens\s+tok/word\s+bytes/tok$",  # the fertility table
            r"^tokenizer: vocab 8192 from \d+ languages",
        ),
        files=tuple(
            f"work/demo/tokenizer/{name}"
            for name in ("tokenizer.json", "llm_train_tokenizer.json", "fertility.json")
        ),
    ),
    r"^llm-train pack --corpus\b": Expect(
        lines=(
            r"^pack: \d+ datasets, \d+ documents, \d+ tokens \(uint16\)",
            r"^dataset\s+weight\s+tokens\s+docs\s+contrib\s+epochs$",
        ),
        files=(
            "work/demo/packed/*_text_document.bin",
            "work/demo/packed/*_text_document.idx",
            "work/demo/packed/mixture.yaml",
        ),
    ),
    r"^llm-train pack --verify\b": Expect(lines=(r"^verify: \d+ datasets ok in work/demo/packed$",)),
    r"^llm-train train --nproc 2 --run-id demo\b": Expect(
        lines=(
            rf"step \d+/300 \| loss {NUM} \| lr {NUM}(e-?\d+)? \| grad norm {NUM} \| \d+ tok/s",
            rf"valid \S+ step 100 \| loss {NUM} \| bpb {NUM}",
            r"checkpoint step 100 saved",
        ),
        files=(
            f"{RUN}/config.yaml",
            f"{RUN}/config.sha256",
            f"{RUN}/metrics.jsonl",
            f"{RUN}/checkpoints/step-300",
        ),
    ),
    r"^llm-train eval run\b": Expect(
        lines=(
            rf"step 300: bpb macro {NUM} \|( \S+ {NUM})+",
            rf"continuation acc/acc_norm \|( \S+ {NUM}/{NUM} \(n=\d+\))+",
        ),
        files=(f"{RUN}/evals/results.jsonl",),
    ),
    r"^llm-train export --to hf\b": Expect(
        files=("work/demo/hf/config.json", "work/demo/hf/model.safetensors", "work/demo/hf/tokenizer.json")
    ),
    r"^llm-train eval report\b": Expect(
        lines=(
            rf"^report: {RUN}/evals/report/report\.md "
            r"\(bpb_vs_tokens\.png, loss_vs_tokens\.png, tasks_vs_tokens\.png\)",
        ),
        files=tuple(
            f"{RUN}/evals/report/{name}"
            for name in ("report.md", "bpb_vs_tokens.png", "loss_vs_tokens.png", "tasks_vs_tokens.png")
        ),
    ),
    r"^llm-train track ui\b": Expect(
        lines=(
            r"^\s*socket /\S+/aim-\w+\.sock \(mode 0600 in a 0700 directory: only you can open it\)",
            r"^\s*on your laptop:\s+ssh -N -L 43800:/\S+\.sock \S+@\S+",
            r"^\s*then open http://127\.0\.0\.1:43800",
            r"UI stopped; removed /\S+\.sock",
        ),
        served=check_ui_socket,
    ),
    r"^llm-train data lineage \S+ --step 300\b": Expect(
        lines=(
            r"^\s*step 300 read global samples \d+-\d+: \d+ document part\(s\)$",
            r"^\s*sample\s+tokens\s+dataset\s+id\s+source\s+url$",
            r"^lineage: \d+ document record\(s\) in 1 run\(s\)",
        )
    ),
    r"^llm-train data lineage \S+ --source\b": Expect(
        lines=(
            r"^\s*document \w+ \(\w+, source fortunes-de, /\S+",
            r"^\s*consumed: first at step \d+, read \d+ time\(s\), \d+ tokens$",
            r"^\s*checkpoints that saw it: step-\d+ \(\d+ tokens\)",
        ),
    ),
    r"^llm-train report ai-act\b": Expect(files=(f"{RUN}/ai-act/summary.md", f"{RUN}/ai-act/summary.json")),
    r"^llm-train plan\b": Expect(lines=(r"(?i)memory", r"GPU-hours")),
    r"^llm-train submit \S+ --cluster juwels-booster --account myproj --dry-run$": Expect(
        lines=(r"^#SBATCH --account=myproj",)
    ),
    r"^llm-train submit \S+ --cluster juwels-booster --account myproj \\?\s*--chain ": Expect(
        lines=tuple(
            rf"^#SBATCH --job-name=llama-7b-eu-{stage}$" for stage in ("prep", "tokenizer", "pack", "train")
        )
        + (r"^# ---- next job \(afterok the previous\) ----",),
    ),
    r"--kind burn-in": Expect(
        lines=(r"^#SBATCH --nodes=16$", r"^#SBATCH --ntasks-per-node=1$", r"doctor --burn-in")
    ),
    r"^llm-train train runs/demo-cpu/demo\b": Expect(
        lines=(
            r"layout change: parallel\.dp 2 -> 1",
            r"resumed step 300 with a new layout \(dp 2 -> 1\); "
            r"the data continues at sample \d+ of the same sequence",
        ),
        files=(f"{RUN}/checkpoints/step-310",),
    ),
}


def expectation(command: Command) -> Expect | None:
    found = [e for pattern, e in EXPECT.items() if re.search(pattern, command.text)]
    assert len(found) <= 1, f"README.md:{command.line}: several expectations match `{command.text}`"
    return found[0] if found else None


def served_ready(command: Command) -> str | None:
    return next((ready for pattern, ready in SERVED.items() if pattern.search(command.text)), None)


def kind(command: Command) -> str:
    if command.skip:
        return "skipped"
    if served_ready(command):
        return "served"
    return "dry-run" if command.dry_run else "run"


# ---- the runner ----------------------------------------------------------------------------------


@dataclass
class Outcome:
    command: Command
    kind: str
    seconds: float = 0.0
    output: str = ""
    checks: list[str] = field(default_factory=list)


def workdir(root: Path) -> Path:
    """A directory where the README's relative paths work: links to the checkout's inputs."""
    root.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        (root / name).symlink_to(REPO / name)
    return root


def readme_env(root: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LLM_TRAIN_", "SLURM_"))
        and k not in ("SCRATCH", "BUDGET_ACCOUNTS", "VIRTUAL_ENV")
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env["SCRATCH"] = str(root / "scratch")  # what a site sets; the chain example writes under it
    env["COLUMNS"] = "160"  # a terminal's width: rich wraps at 80 columns when not on one
    return env


def run_commands(
    commands: list[Command], cwd: Path, env: dict[str, str], logs: Path, timeout: float = 1800
) -> list[Outcome]:
    """Run the commands in order; raise ReadmeFailure at the first that fails or misses a check."""
    logs.mkdir(parents=True, exist_ok=True)
    env, outcomes = dict(env), []
    for i, command in enumerate(commands):
        outcome = Outcome(command, kind(command))
        outcomes.append(outcome)
        if command.skip:
            continue
        log = logs / f"{i:02d}-line{command.line}.log"
        start = time.monotonic()
        ready = served_ready(command)
        expect = expectation(command)
        if ready:
            outcome.output = serve(command, cwd, env, log, ready, expect.served if expect else None)
        else:
            outcome.output, env = run_one(command, cwd, env, log, timeout)
        outcome.seconds = time.monotonic() - start
        if expect:
            outcome.checks = check(command, expect, outcome.output, cwd)
    return outcomes


def run_one(
    command: Command, cwd: Path, env: dict[str, str], log: Path, timeout: float
) -> tuple[str, dict[str, str]]:
    """One command in its own bash, in its own process group; the environment it leaves (an
    `export` in the README) goes on to the next command."""
    env_file = log.with_suffix(".env")
    script = f'{command.shell}\nstatus=$?\nenv -0 > {shlex.quote(str(env_file))}\nexit "$status"\n'
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["bash", "-c", script], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_group(proc)
            fail(command, f"did not finish in {timeout:.0f} s", log.read_text(errors="replace"))
    output = log.read_text(errors="replace")
    left = leftover(proc.pid)
    if proc.returncode != 0:
        fail(command, f"exited with {proc.returncode}", output)
    if left:
        fail(command, "left processes running after it exited", output)
    new_env = dict(item.split("=", 1) for item in env_file.read_bytes().decode().split("\0") if "=" in item)
    for name in ("_", "SHLVL", "PWD", "OLDPWD"):
        new_env.pop(name, None)
    return output, new_env


def serve(
    command: Command,
    cwd: Path,
    env: dict[str, str],
    log: Path,
    ready: str,
    served: Callable[[str], None] | None,
    timeout: float = 300,
) -> str:
    """Start a command that serves until stopped, wait until it says it serves, check it, stop it
    (SIGTERM, as Ctrl-C or a closed session would) and make sure nothing of it is left."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["bash", "-c", f"exec {command.shell}"], cwd=cwd, env=env, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while ready not in log.read_text(errors="replace"):
            if proc.poll() is not None:
                fail(command, f"exited with {proc.returncode} before serving", log.read_text())
            if time.monotonic() > deadline:
                fail(command, f"printed no {ready!r} in {timeout:.0f} s", log.read_text())
            time.sleep(0.3)
        if served:
            try:
                served(log.read_text(errors="replace"))
            except (AssertionError, OSError, TimeoutError) as exc:
                fail(command, f"serves, but not as the README says: {exc!r}", log.read_text())
    finally:
        code = stop_group(proc)
    output = log.read_text(errors="replace")
    if code not in (0, -signal.SIGTERM, 128 + signal.SIGTERM, 130):
        fail(command, f"did not stop cleanly on SIGTERM (exit {code})", output)
    if leftover(proc.pid):
        fail(command, "left processes running after it stopped", output)
    return output


def stop_group(proc: subprocess.Popen, grace: float = 30.0) -> int:
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    leftover(proc.pid, grace=5.0)
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)
    return proc.returncode


def leftover(pgid: int, grace: float = 10.0) -> bool:
    """Whether processes of the command's group outlive it (given a grace period); they are killed."""
    deadline = time.monotonic() + grace
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() > deadline:
            with suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            return True
        time.sleep(0.2)


def check(command: Command, expect: Expect, output: str, cwd: Path) -> list[str]:
    done = []
    for pattern in expect.lines:
        if not re.search(pattern, output, re.MULTILINE):
            fail(command, f"printed no line matching {pattern!r}", output)
        done.append(f"line /{pattern}/")
    for pattern in expect.files:
        if not list(cwd.glob(pattern)):
            fail(command, f"wrote nothing matching {pattern}", output)
        done.append(f"file {pattern}")
    return done


def fail(command: Command, what: str, output: str) -> None:
    tail = "\n".join(output.rstrip().splitlines()[-25:])
    raise ReadmeFailure(
        f"README.md:{command.line}: `{command.shell}` {what}\n---- its output (last lines)\n{tail}"
    )


def plan_table(commands: list[Command]) -> str:
    rows = []
    for c in commands:
        why = f"  ({c.skip})" if c.skip else ""
        rows.append(
            f"  {kind(c):<8} README.md:{c.line:<4} {c.shell if not c.skip else c.text.split(' #')[0]}{why}"
        )
    return "\n".join(rows)


# ---- fast tests: the extractor and the runner ------------------------------------------------------

MARKED = """\
text

```bash
echo one   # a comment, not a marker
echo two \\
    three
#   two three
false   # not run by the README test: it fails on purpose
echo four
#   not run by the README test: told on the line after
echo five   # the README test runs this with --dry-run
```

```yaml
# not a command
key: value
```

  ```bash
  # a comment that opens a block belongs to no earlier command
  export README_TEST_VALUE=kept
  echo "$README_TEST_VALUE"
  ```
"""


def test_extractor_sees_commands_and_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(MARKED)
    commands = bash_commands(readme)
    assert [c.shell for c in commands] == [
        "echo one",
        "echo two three",
        "false",
        "echo four",
        "echo five --dry-run",
        "export README_TEST_VALUE=kept",
        'echo "$README_TEST_VALUE"',
    ]
    assert [c.line for c in commands] == [4, 5, 8, 9, 11, 21, 22]
    assert [kind(c) for c in commands] == ["run", "run", "skipped", "skipped", "dry-run", "run", "run"]
    assert commands[2].skip == "it fails on purpose"
    assert commands[3].skip == "told on the line after"
    assert commands[1].notes == ["#   two three"]
    assert commands[4].notes == [] and commands[5].notes == []

    outcomes = run_commands(commands, workdir(tmp_path / "run"), readme_env(tmp_path), tmp_path / "logs")
    assert [o.output.strip() for o in outcomes] == ["one", "two three", "", "", "five --dry-run", "", "kept"]


def test_a_broken_readme_command_fails_the_runner(tmp_path):
    """A copy of the README's `plan` command with a misspelt option: the runner stops there and
    names the line; the command as the README writes it runs."""
    plan = next(c for c in bash_commands(README) if c.text.startswith("llm-train plan "))
    broken = plan.shell.replace("--cluster", "--clustr")
    readme = tmp_path / "README.md"
    readme.write_text(f"```bash\n{plan.shell}\n{broken}\necho never\n```\n")
    commands = bash_commands(readme)
    root, env = workdir(tmp_path / "run"), readme_env(tmp_path)
    with pytest.raises(ReadmeFailure) as failure:
        run_commands(commands, root, env, tmp_path / "logs")
    message = str(failure.value)
    print(message)
    assert message.startswith(f"README.md:3: `{broken}` exited with 2")
    assert "--clustr" in message
    assert not (tmp_path / "logs" / "02-line4.log").exists()  # nothing after the failure ran
    assert run_commands(commands[:1], root, env, tmp_path / "logs2")[0].output  # the README's own


def test_every_readme_command_is_run_dry_run_or_skipped_with_a_reason():
    commands = bash_commands(README)
    print(f"\n{len(commands)} commands in README.md's bash blocks:\n{plan_table(commands)}")
    kinds = [kind(c) for c in commands]
    assert set(kinds) <= {"run", "dry-run", "served", "skipped"}
    assert kinds.count("run") >= 10, kinds
    for c in commands:
        where = f"README.md:{c.line}: `{c.text}`"
        if c.skip is not None:
            assert len(c.skip) > 10, f"{where}: a skip needs a reason readers can check"
            continue
        # Nothing here may reach a real site, rerun the suite or change the demo corpus.
        real_site = re.search(r"--cluster (?!local)", c.text) and re.search(
            r"\bsubmit\b|--executor slurm", c.text
        )
        if real_site or re.search(r"\bdata erase\b|^make (test|demo)\b", c.text):
            assert "--dry-run" in c.shell.split(), f"{where}: must run with --dry-run or be marked as not run"
        # A placeholder such as <run-id> is a redirection to bash.
        assert not re.search(r"<[\w-]+>", c.shell), f"{where}: a placeholder cannot run"
        # Where the README shows output, the test checks it.
        if [n for n in c.notes if not SKIP.search(n) and DRY_RUN not in n]:
            assert expectation(c), f"{where}: the README shows its output but EXPECT has no check for it"
    stale = [p for p in EXPECT if not any(re.search(p, c.text) for c in commands if not c.skip)]
    assert not stale, f"EXPECT entries no README command matches: {stale}"


# ---- the README itself -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.aim
@pytest.mark.distributed
@pytest.mark.timeout(3600)
def test_readme_commands_run_in_order(tmp_path):
    assert (BIN / "llm-train").exists(), f"no llm-train next to {sys.executable}"
    commands = bash_commands(README)
    root = workdir(tmp_path / "checkout")
    start = time.monotonic()
    outcomes = run_commands(commands, root, readme_env(tmp_path), tmp_path / "logs")
    total = time.monotonic() - start
    lines = [
        f"  {o.kind:<8} {o.seconds:6.1f} s  README.md:{o.command.line:<4} "
        + (f"{o.command.text.split(' #')[0]}  ({o.command.skip})" if o.command.skip else o.command.shell)
        + (f"\n{'':28}checked {len(o.checks)}: " + "; ".join(o.checks) if o.checks else "")
        for o in outcomes
    ]
    print(f"\nREADME.md: {len(outcomes)} commands in {total:.0f} s\n" + "\n".join(lines))
    assert all(o.kind != "skipped" or o.command.skip for o in outcomes)
