"""A task's checks: what each kind asks of an answer, and the outcome of one check on one answer.

The checks are the runner's, not the model's: a `command` check runs the way the shell tool would
(no shell, confined, timed, capped), with the answer on its standard input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from smallagent.errors import SmallagentError
from smallagent.shell import ShellPolicy

CHECK_KINDS = ("contains", "contains_any", "regex", "equals", "cites", "command")


@dataclass(frozen=True)
class Check:
    kind: str
    values: tuple[str, ...]  # one value for regex, equals and command


@dataclass(frozen=True)
class CheckOutcome:
    kind: str
    passed: bool
    detail: str


def normalise(text: str) -> str:
    """Case, spacing, markdown emphasis and end punctuation ignored: `**TW-8841**.` == `tw-8841`."""
    text = re.sub(r"[*_`]+", "", text).casefold()
    return " ".join(text.split()).strip(" .!?;:,\"'")


def evaluate(
    check: Check,
    answer: str,
    cited_paths: Sequence[str],
    run_command: Callable[[str, str], int | None],
) -> CheckOutcome:
    """One check on one answer. `run_command(command, stdin)` gives an exit code (None: killed)."""
    folded = answer.casefold()
    if check.kind in ("contains", "contains_any"):
        missing = [value for value in check.values if value.casefold() not in folded]
        if check.kind == "contains":
            detail = f"missing {', '.join(map(repr, missing))}" if missing else "all present"
            return CheckOutcome(check.kind, not missing, detail)
        found = len(missing) < len(check.values)
        return CheckOutcome(check.kind, found, "one present" if found else "none present")
    if check.kind == "regex":
        match = re.search(check.values[0], answer)
        detail = f"matched {match.group(0)!r}" if match else f"no match for /{check.values[0]}/"
        return CheckOutcome(check.kind, match is not None, detail)
    if check.kind == "equals":
        equal = normalise(answer) == normalise(check.values[0])
        return CheckOutcome(
            check.kind, equal, "equal" if equal else f"expected {check.values[0]!r}"
        )
    if check.kind == "cites":
        missing = [
            wanted
            for wanted in check.values
            if not any(_same_file(path, wanted) for path in cited_paths)
        ]
        shown = ", ".join(cited_paths) or "nothing"
        detail = f"cited {shown}" + (f"; missing {', '.join(missing)}" if missing else "")
        return CheckOutcome(check.kind, not missing, detail)
    exit_code = run_command(check.values[0], answer)
    detail = "killed by the timeout" if exit_code is None else f"exit code {exit_code}"
    return CheckOutcome(check.kind, exit_code == 0, detail)


def _same_file(cited: str, wanted: str) -> bool:
    cited_parts, wanted_parts = Path(cited).parts, Path(wanted).parts
    return bool(wanted_parts) and cited_parts[-len(wanted_parts) :] == wanted_parts


def command_runner(workdir: Path, allow_shell: bool) -> Callable[[str, str], int | None]:
    """Runs a check's command the way the shell tool would: no shell, confined, timed, capped.

    The answer arrives on the command's standard input, so `grep -q TW-8841` checks it.
    """
    policy = ShellPolicy(workdir, "allow" if allow_shell else "read-only")

    def run(command: str, answer: str) -> int | None:
        verdict = policy.decide(command)
        if not verdict.allowed:
            raise SmallagentError(f"check command refused: {verdict.reason}")
        return policy.run(verdict.argv, stdin_text=answer, confined=verdict.confined).exit_code

    return run
