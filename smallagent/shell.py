"""The shell tool's policy and runner.

A model picks these commands after reading untrusted documents, so the default is narrow: a
read-only allowlist, arguments checked per command, every path confined to the working directory,
no shell (argv is executed directly, so pipes, redirects, `;`, `&&`, `$()` and backticks are never
interpreted and are refused outright), a timeout that kills the whole process group, and capped
output. Anything else runs only with the user's consent: a [y/N] prompt in a terminal, or
--allow-shell. A document that says "run rm -rf ~" gets a refusal, not a run.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

READ_ONLY_COMMANDS = frozenset(
    {
        "ls", "cat", "head", "tail", "wc", "grep", "egrep", "fgrep", "find", "stat", "du", "file",
        "sort", "uniq", "cut", "tr", "nl", "pwd", "echo", "basename", "dirname", "realpath",
        "md5sum", "sha256sum", "tree", "diff", "cmp", "comm", "date", "whoami", "uname", "df",
    }
)  # fmt: skip

# Options that make an allowlisted command write, delete or run something else.
FORBIDDEN_OPTIONS: dict[str, tuple[str, ...]] = {
    "find": ("-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf",
             "-fls"),
    "sort": ("-o", "--output", "--compress-program"),
    "tree": ("-o",),
    "file": ("-C", "--compile"),
    "date": ("-s", "--set"),
}  # fmt: skip
SHELL_OPERATORS = ("|", "&", ";", "<", ">", "(", ")")
SUBSTITUTIONS = ("`", "$(", "${", "\n", "\r")

Mode = Literal["read-only", "allow-all", "off"]


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""
    argv: tuple[str, ...] = ()


@dataclass(frozen=True)
class ShellResult:
    exit_code: int | None  # None when killed by the timeout
    output: str
    truncated: bool
    seconds: float


def _lex(command: str) -> list[str]:
    """Words and operator runs (`|`, `&&`, `>` …) as a POSIX shell would split them; ValueError
    when a quote is left open."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars="".join(SHELL_OPERATORS))
    lexer.whitespace_split = True
    return list(lexer)


def _is_operator(token: str) -> bool:
    return bool(token) and all(character in SHELL_OPERATORS for character in token)


def _split(command: str) -> list[str] | str:
    """argv, or a reason the command cannot be taken as one plain command."""
    if not command.strip():
        return "the command is empty"
    for marker in SUBSTITUTIONS:
        if marker in command:
            shown = {"\n": "a newline", "\r": "a carriage return"}.get(marker, f"`{marker}`")
            return f"{shown} is not allowed: commands run without a shell"
    try:
        tokens = _lex(command)
    except ValueError as error:
        return f"cannot parse the command ({error})"
    for token in tokens:
        if _is_operator(token):
            return (
                f"`{token}` is not allowed: commands run without a shell, so pipes, redirects "
                "and command lists do not work; run one command at a time"
            )
    return tokens


def before_pipe(command: str) -> str | None:
    """The command before its first `|`, when it is a pipeline and that part is plain.

    Small models write `find . -name '*.md' | wc -l` however often they are told pipes do not
    run; the shell tool runs the first part alone (under the same policy) and counts the lines.
    """
    if any(marker in command for marker in SUBSTITUTIONS):
        return None
    try:
        tokens = _lex(command)
    except ValueError:
        return None
    first = tokens[: tokens.index("|")] if "|" in tokens else []
    if not first or any(_is_operator(token) for token in first):
        return None
    return shlex.join(first)


def _escapes(argument: str, workdir: Path) -> bool:
    """True when a path-like argument points outside the working directory."""
    value = argument.split("=", 1)[1] if argument.startswith("-") and "=" in argument else argument
    if argument.startswith("-") and value is argument:
        return False
    looks_like_path = value.startswith(("/", "~", "..")) or "/" in value
    if not looks_like_path and not (value and (workdir / value).exists()):
        return False
    target = Path(os.path.expanduser(value))
    resolved = (target if target.is_absolute() else workdir / target).resolve()
    return not resolved.is_relative_to(workdir.resolve())


def read_only_verdict(command: str, workdir: Path) -> Verdict:
    """Whether the read-only policy allows `command` as it stands, and why not."""
    split = _split(command)
    if isinstance(split, str):
        return Verdict(False, split)
    program, arguments = split[0], split[1:]
    if "/" in program:
        return Verdict(False, f"`{program}`: give the command by name, not by path", tuple(split))
    if program not in READ_ONLY_COMMANDS:
        return Verdict(
            False,
            f"`{program}` is not on the read-only allowlist "
            f"({', '.join(sorted(READ_ONLY_COMMANDS))})",
            tuple(split),
        )
    for argument in arguments:
        for option in FORBIDDEN_OPTIONS.get(program, ()):
            if argument == option or (
                option.startswith("--") and argument.startswith(option + "=")
            ):
                return Verdict(
                    False, f"`{program} {option}` can write or run programs", tuple(split)
                )
            if program == "sort" and option == "-o" and argument.startswith("-o"):
                return Verdict(False, "`sort -o` writes a file", tuple(split))
        if _escapes(argument, workdir):
            return Verdict(
                False, f"`{argument}` is outside the working directory {workdir}", tuple(split)
            )
    if program == "uniq" and len([a for a in arguments if not a.startswith("-")]) > 1:
        return Verdict(False, "`uniq INPUT OUTPUT` writes a file", tuple(split))
    return Verdict(True, "", tuple(split))


class ShellPolicy:
    """Decides what runs: the read-only allowlist, else consent (prompt or --allow-shell)."""

    def __init__(
        self,
        workdir: Path,
        mode: Mode = "read-only",
        confirm: Callable[[str], bool] | None = None,
        timeout_s: float = 20.0,
        output_limit: int = 8000,
    ) -> None:
        self.workdir = workdir.resolve()
        self.mode = mode
        self.confirm = confirm
        self.timeout_s = timeout_s
        self.output_limit = output_limit

    def decide(self, command: str) -> Verdict:
        if self.mode == "off":
            return Verdict(False, "the shell tool is disabled (--no-shell)")
        verdict = read_only_verdict(command, self.workdir)
        if verdict.allowed or not verdict.argv:
            return verdict  # unparsable or shell syntax: no consent can make it run as meant
        if self.mode == "allow-all":
            return Verdict(True, "allowed by --allow-shell", verdict.argv)
        if self.confirm is not None and self.confirm(command):
            return Verdict(True, "allowed by the user", verdict.argv)
        consent = "the user declined" if self.confirm is not None else "no one to ask"
        return Verdict(
            False,
            f"{verdict.reason}; {consent}. Only read-only commands run without consent "
            "(--allow-shell permits more)",
            verdict.argv,
        )

    def run(self, argv: tuple[str, ...], stdin_text: str | None = None) -> ShellResult:
        """Run without a shell in the working directory; kill the process group on timeout.

        `stdin_text` is fed to the command (a task check reads the answer that way).
        """
        started = time.monotonic()
        environment = {
            "PATH": os.environ.get("PATH", os.defpath),
            "LC_ALL": "C.UTF-8",
            "HOME": str(self.workdir),
        }
        try:
            process = subprocess.Popen(
                list(argv),
                cwd=self.workdir,
                env=environment,
                stdin=subprocess.DEVNULL if stdin_text is None else subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as error:
            return ShellResult(127, f"cannot run {argv[0]}: {error.strerror}", False, 0.0)
        assert process.stdout is not None
        kept = bytearray()
        total = 0

        def drain() -> None:
            nonlocal total
            assert process.stdout is not None
            for block in iter(lambda: process.stdout.read(65536), b""):  # type: ignore[union-attr]
                total += len(block)
                if len(kept) < self.output_limit:
                    kept.extend(block[: self.output_limit - len(kept)])

        def feed() -> None:
            assert process.stdin is not None and stdin_text is not None
            try:
                process.stdin.write(stdin_text.encode("utf-8"))
                process.stdin.close()
            except OSError:
                pass  # the command did not read it all: that is its answer to give

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        if stdin_text is not None:
            threading.Thread(target=feed, daemon=True).start()
        try:
            exit_code: int | None = process.wait(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the children too, not just the leader
            process.wait()
            exit_code = None
        reader.join(timeout=5)
        text = kept.decode("utf-8", errors="replace")
        truncated = total > len(kept)
        if truncated:
            text += f"\n[output truncated: {total} bytes, first {len(kept)} shown]"
        if exit_code is None:
            text += f"\n[killed after {self.timeout_s:.0f} s timeout]"
        return ShellResult(exit_code, text, truncated, time.monotonic() - started)
