"""The shell tool's policy and runner.

A model picks these commands after reading untrusted documents, so the default is narrow, in two
layers that each hold on their own:

1. policy (here and in commands.py): no shell (argv is executed directly, so pipes, redirects,
   `;`, `&&`, `$()` and backticks are never interpreted and are refused outright), a read-only
   allowlist of programs, and for each an allowlist of options parsed as getopt_long parses them,
   with every path confined to the working directory after symlinks are resolved;
2. kernel (sandbox.py): what the policy admits runs under Landlock, unable to write anywhere,
   to exec another program, or to read outside the system directories and the working directory.

Plus a timeout that kills the whole process group, and capped output. Anything else runs only
with the user's consent, unconfined: a [y/N] prompt that shows the argv that will run, or
--allow-shell. A document that says "run rm -rf ~" gets a refusal, not a run.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from smallagent.commands import MINIMAL, PROGRAMS, Refusal, canonical
from smallagent.config import ShellMode
from smallagent.sandbox import landlock_abi
from smallagent.sandbox import wrap as landlock_wrap

READ_ONLY_COMMANDS = frozenset(PROGRAMS)
SHELL_OPERATORS = ("|", "&", ";", "<", ">", "(", ")")
SUBSTITUTIONS = ("`", "$(", "${", "\n", "\r")

# Puts a sandbox launcher before an argv: sandbox.wrap, or a stand-in in tests of the policy alone.
Sandbox = Callable[[Path, Sequence[str]], list[str]]


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""
    argv: tuple[str, ...] = ()
    confined: bool = False  # run under the kernel sandbox
    comment: str = ""  # a `# ...` the command carried; never run, shown to the user


def shown(argv: Sequence[str]) -> str:
    r"""The argv as one line a terminal cannot disguise: quoted, control characters escaped.

    >>> shown(["touch", "x\x1b[2K\rls -la"])
    "touch 'x\\x1b[2K\\x0dls -la'"
    """
    return visible(shlex.join(argv))


def visible(text: str) -> str:
    """Text with every control, format and unassigned character written as an escape."""
    return "".join(_escaped(character) for character in text)


def _escaped(character: str) -> str:
    if unicodedata.category(character) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
        code = ord(character)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return character


@dataclass(frozen=True)
class ConsentRequest:
    """What the user is asked about: the argv that would run (not the model's text) and why."""

    argv: tuple[str, ...]
    reason: str
    comment: str = ""

    @property
    def command(self) -> str:
        return shown(self.argv)

    def prompt(self) -> str:
        lines = [
            f"The model wants to run:  {self.command}",
            f"Outside the read-only policy because {visible(self.reason)}.",
        ]
        if self.comment:
            lines.append(f"(Its comment was dropped, not run: {visible(self.comment)})")
        lines.append("Run it without the sandbox, able to write and run anything you can?")
        return "\n".join(lines)


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
    lexer.commenters = ""  # strip_comment took the comment off the way a shell would
    return list(lexer)


def _is_operator(token: str) -> bool:
    return bool(token) and all(character in SHELL_OPERATORS for character in token)


def _comment_start(command: str) -> int | None:
    """Where an unquoted `#` at the start of a word begins a comment, as in a POSIX shell."""
    quote = ""
    escaped = False
    for index, character in enumerate(command):
        if escaped:
            escaped = False
        elif quote:
            if character == quote:
                quote = ""
            elif character == "\\" and quote == '"':
                escaped = True
        elif character == "\\":
            escaped = True
        elif character in "'\"":
            quote = character
        elif character == "#" and (
            index == 0 or command[index - 1] in " \t" + "".join(SHELL_OPERATORS)
        ):
            return index
    return None


def strip_comment(command: str) -> tuple[str, str]:
    """(the command without its comment, the comment).

    >>> strip_comment("grep -c a#b f  # count")
    ('grep -c a#b f', '# count')
    """
    start = _comment_start(command)
    if start is None:
        return command, ""
    return command[:start].rstrip(), command[start:]


def _split(command: str) -> list[str] | str:
    """argv, or a reason the command cannot be taken as one plain command."""
    command = strip_comment(command)[0]
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
    command = strip_comment(command)[0]
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


def read_only_verdict(command: str, workdir: Path) -> Verdict:
    """Whether the read-only policy allows `command` as it stands, and why not.

    When allowed, `argv` is the command rebuilt from its checked options (commands.canonical);
    when refused with an argv, that argv is the command as written, for consent to run.
    """
    comment = strip_comment(command)[1]
    split = _split(command)
    if isinstance(split, str):
        return Verdict(False, split, comment=comment)
    program, arguments = split[0], split[1:]
    if "/" in program:
        reason = f"`{program}`: give the command by name, not by path"
        return Verdict(False, reason, tuple(split), comment=comment)
    if program not in READ_ONLY_COMMANDS:
        return Verdict(
            False,
            f"`{program}` is not on the read-only allowlist "
            f"({', '.join(sorted(READ_ONLY_COMMANDS))})",
            tuple(split),
            comment=comment,
        )
    try:
        argv = canonical(program, arguments, workdir.resolve())
    except Refusal as refusal:
        return Verdict(False, str(refusal), tuple(split), comment=comment)
    return Verdict(True, "", tuple(argv), comment=comment)


class ShellPolicy:
    """Decides what runs, and how: the read-only policy under the kernel sandbox, else consent.

    `sandbox` puts the launcher before an argv: Landlock's by default when the kernel has it;
    None where it has not, and then only MINIMAL programs run without asking. A test of the policy
    alone passes a stand-in that confines nothing; `confine_consented` runs consented commands in
    the sandbox too (a test of the sandbox alone).
    """

    def __init__(
        self,
        workdir: Path,
        mode: ShellMode = "read-only",
        confirm: Callable[[ConsentRequest], bool] | None = None,
        timeout_s: float = 20.0,
        output_limit: int = 8000,
        sandbox: Sandbox | Literal["landlock"] | None = "landlock",
        confine_consented: bool = False,
    ) -> None:
        self.workdir = workdir.resolve()
        self.mode = mode
        self.confirm = confirm
        self.timeout_s = timeout_s
        self.output_limit = output_limit
        if sandbox == "landlock":
            sandbox = landlock_wrap if landlock_abi() >= 1 else None
        self.sandbox: Sandbox | None = sandbox
        self.confine_consented = confine_consented
        self.answers: dict[tuple[str, ...], bool] = {}  # one question per argv in a run
        self.waited_s = 0.0  # time spent waiting for the user's answer: not the tool's compute

    def decide(self, command: str) -> Verdict:
        if self.mode == "off":
            return Verdict(False, "the shell tool is disabled (--no-shell)")
        verdict = read_only_verdict(command, self.workdir)
        if verdict.allowed:
            if self.sandbox is not None:
                return replace(verdict, confined=True)
            if verdict.argv[0] in MINIMAL:
                return verdict
            verdict = replace(
                verdict,
                allowed=False,
                reason=f"the kernel sandbox (Landlock) is unavailable here and `{verdict.argv[0]}` "
                "has options that write or run programs",
            )
        if not verdict.argv:
            return verdict  # unparsable or shell syntax: no consent can make it run as meant
        if self.mode == "allow":
            confined = self.confine_consented
            return replace(
                verdict, allowed=True, reason="allowed by --allow-shell", confined=confined
            )
        return self._consent(verdict)

    def _consent(self, verdict: Verdict) -> Verdict:
        earlier = verdict.argv in self.answers
        if not earlier and self.confirm is not None:
            request = ConsentRequest(verdict.argv, verdict.reason, verdict.comment)
            started = time.monotonic()
            try:
                self.answers[verdict.argv] = self.confirm(request)
            finally:
                self.waited_s += time.monotonic() - started
        when = " earlier in this run" if earlier else ""
        if self.answers.get(verdict.argv, False):
            return replace(verdict, allowed=True, reason=f"allowed by the user{when}")
        consent = f"the user declined{when}" if verdict.argv in self.answers else "no one to ask"
        return replace(
            verdict,
            reason=f"{verdict.reason}; {consent}. Only read-only commands run without consent "
            "(--allow-shell permits more)",
        )

    def run(
        self, argv: Sequence[str], stdin_text: str | None = None, confined: bool = False
    ) -> ShellResult:
        """Run without a shell in the working directory; kill the process group on timeout.

        `stdin_text` is fed to the command (a task check reads the answer that way). `confined`
        runs it under the sandbox, and refuses to run it at all when there is none.
        """
        command = list(argv)
        if confined:
            if self.sandbox is None:
                return ShellResult(126, "not run: the kernel sandbox is unavailable", False, 0.0)
            command = self.sandbox(self.workdir, argv)
        started = time.monotonic()
        environment = {
            "PATH": os.environ.get("PATH", os.defpath),
            "LC_ALL": "C.UTF-8",
            "HOME": str(self.workdir),
        }
        try:
            process = subprocess.Popen(
                command,
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
