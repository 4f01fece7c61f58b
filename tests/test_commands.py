"""The per-program option allowlists: parsed as getopt_long parses, rebuilt, and true to the
programs installed here; and the everyday commands still work through the whole tool."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from smallagent.commands import ALIASES, MINIMAL, PROGRAMS, Refusal, canonical
from smallagent.sandbox import landlock_abi
from smallagent.shell import ShellPolicy
from smallagent.tools import make_shell_tool

W = Path("/w")


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("sort -rn --k=2 data.txt", "sort --reverse --numeric-sort --key=2 -- data.txt"),
        ("sort -t, -k2,2n f", "sort --field-separator=, --key=2,2n -- f"),
        ("ls -la", "ls -l --all"),
        ("ls -1 -- -odd-name", "ls -1 -- -odd-name"),
        ("head -5 a.md", "head --lines=5 -- a.md"),
        ("tail -n +3 a.md", "tail --lines=+3 -- a.md"),
        ("grep -rn5 foo .", "grep --recursive --line-number --context=5 -- foo ."),
        ("grep -e x -e y a.md", "grep --regexp=x --regexp=y -- a.md"),
        ("grep --ignore-c TODO a.md", "grep --ignore-case -- TODO a.md"),
        ("egrep 'a|b' a.md", "grep --extended-regexp -- 'a|b' a.md"),
        ("cut -d '' -f1 a.md", "cut --delimiter= --fields=1 -- a.md"),
        ("date -Ihours", "date --iso-8601=hours"),
        ("date -u +%F", "date --utc -- +%F"),
        ("diff a.md b.md", "diff --no-dereference -- a.md b.md"),
        ("wc -l a.md", "wc --lines -- a.md"),
        ("uniq -c a.md", "uniq --count -- a.md"),
        ("find . -name '*.md' -type f", "find . -name '*.md' -type f"),
        ("echo -n hi there", "echo -n hi there"),
    ],
)
def test_commands_are_rebuilt_from_what_was_understood(command: str, expected: str) -> None:
    import shlex

    program, *arguments = shlex.split(command)
    assert shlex.join(canonical(program, arguments, W)) == expected


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        ("sort --com=sh f", "`sort --com` (that is --compress-program) can write or run any"),
        ("sort -ro/x f", "`sort -o` can write a file"),
        ("sort --ou x f", "`sort --ou` (that is --output) can write a file"),
        ("sort --v f", "`sort --v` is ambiguous (--version, --version-sort)"),
        ("ls --deref", "`ls --deref` is ambiguous"),
        ("ls --dereference", "`ls --dereference` follows symlinks"),
        ("uniq -- in -out", "`uniq INPUT OUTPUT` writes a file"),
        ("file -kC -m x", "`file -C` can write a file"),
        ("date -f/abs/secret", "`date -f` reads a file and prints its lines"),
        ("date --se=2001-01-01", "`date --se` (that is --set) sets the system clock"),
        ("date -s2001-01-01", "`date -s` sets the system clock"),
        ("date 0101000001", "`date 0101000001` sets the system clock"),
        ("date -r/abs", "`/abs` is outside the working directory"),
        ("grep -f/etc/passwd x", "`/etc/passwd` is outside the working directory"),
        ("grep -e x /etc/passwd", "`/etc/passwd` is outside the working directory"),
        ("grep -R x .", "`grep -R` follows symlinks"),
        ("grep --exclude-from=../x y", "`../x` is outside the working directory"),
        ("wc --files0-from=list", "`wc --files0-from` reads the names"),
        ("md5sum -c sums", "`md5sum -c` reads the names"),
        ("head -n", "`head -n` needs a value"),
        ("head --lines", "`head --lines` needs a value"),
        ("cat --number=3 f", "`cat --number` takes no value"),
        ("cat -Z f", "`cat -Z` is not on the read-only allowlist for cat"),
        ("cat --bogus f", "`cat --bogus` is not on the read-only allowlist for cat"),
        ("pwd /", "`pwd` takes no operands"),
        ("find / -name x", "`/` is outside the working directory"),
        ("find . -newer /etc/passwd", "`/etc/passwd` is outside the working directory"),
        ("find . -neweram /etc/passwd", "`/etc/passwd` is outside the working directory"),
        ("find . -fprint x", "`find -fprint` can write a file"),
        ("find . -name", "`find -name` needs a value"),
        ("find . -frobnicate", "`find -frobnicate` is not on the read-only allowlist"),
        ("tail -f log", "`tail -f` waits"),
        ("diff -r a b", "`diff -r` follows symlinks"),
        ("diff -l a b", "`diff -l` runs pr"),
    ],
)
def test_what_is_refused_and_why(command: str, reason: str) -> None:
    import shlex

    program, *arguments = shlex.split(command)
    with pytest.raises(Refusal) as refusal:
        canonical(program, arguments, W)
    assert reason in str(refusal.value)


def test_a_dated_find_newer_takes_a_date_not_a_path() -> None:
    assert canonical("find", [".", "-newermt", "2024-01-01"], W)[-1] == "2024-01-01"


def test_the_option_table_matches_the_installed_programs(tmp_path: Path) -> None:
    """Every allowed option's arity, as the real program reports it: a value the table thinks an
    option takes that the program does not (or the reverse) would let an operand slip past."""
    wrong = []
    environment = {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}

    def stderr(argv: list[str]) -> str:
        completed = subprocess.run(
            argv, cwd=tmp_path, capture_output=True, text=True, timeout=10,
            stdin=subprocess.DEVNULL, env=environment,
        )  # fmt: skip
        return completed.stderr

    for name, program in PROGRAMS.items():
        if name in ALIASES or program.operands in ("echo", "find"):
            continue
        for option in program.options:
            if option.refused:
                continue
            forms = [f"-{option.short}"] if option.short else []
            for form in forms + [f"--{long}" for long in option.longs]:
                said = stderr([name, form])
                if "invalid option" in said or "unrecognized option" in said:
                    wrong.append(f"{name} {form}: unknown to the program")
                elif ("requires an argument" in said) != (option.takes == "required"):
                    wrong.append(f"{name} {form}: takes {option.takes}? {said.strip()}")
                if form.startswith("--"):
                    refuses = "doesn't allow an argument" in stderr([name, f"{form}=1"])
                    if refuses != (option.takes == "none"):
                        wrong.append(f"{name} {form}=1: takes {option.takes}?")
    assert wrong == []


def test_minimal_programs_have_no_writing_or_running_option() -> None:
    assert {"sort", "find", "uniq", "date", "file", "diff"}.isdisjoint(MINIMAL)
    assert {"ls", "cat", "grep", "wc", "head"} <= MINIMAL


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "a.md").write_text("beta\nalpha\nalpha\n")
    (tmp_path / "b.md").write_text("alpha\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.md").write_text("gamma\n")
    return tmp_path


EVERYDAY = [
    ("ls", "a.md"),
    ("ls -la", "a.md"),
    ("ls -1R", "c.md"),
    ("find . -name '*.md'", "./sub/c.md"),
    ("find . -type f -newer a.md", ""),
    ("wc -l a.md b.md", "4 total"),
    ("grep -rn alpha .", "./a.md:2:alpha"),
    ("grep -c alpha a.md", "2"),
    ("egrep -l 'alpha|gamma' a.md b.md", "b.md"),
    ("head -n 1 a.md", "beta"),
    ("head -1 a.md", "beta"),
    ("tail -n 1 a.md", "alpha"),
    ("cat a.md", "beta"),
    ("sort -u a.md", "alpha\nbeta"),
    ("uniq -c a.md", "2 alpha"),
    ("cut -c1-2 a.md", "be"),
    ("nl a.md", "1\tbeta"),
    ("du -sh .", "."),
    ("stat -c %s a.md", "17"),
    ("file a.md", "ASCII text"),
    ("date +%Y", "20"),
    ("df -h .", "Filesystem"),
    ("diff -q a.md a.md", ""),
    ("cmp a.md a.md", ""),
    ("comm b.md b.md", "alpha"),
    ("md5sum b.md", "b.md"),
    ("realpath sub", "/sub"),
    ("basename /x/y.md .md", "y"),
    ("dirname sub/c.md", "sub"),
    ("pwd", "/"),
    ("whoami", ""),
    ("uname -s", "Linux"),
    ("echo hello", "hello"),
]


@pytest.mark.parametrize(("command", "expected"), EVERYDAY, ids=[c for c, _ in EVERYDAY])
def test_everyday_commands_work_through_the_tool(folder: Path, command: str, expected: str) -> None:
    policy = ShellPolicy(folder)
    assert policy.decide(command).confined == (landlock_abi() >= 1)
    observation = make_shell_tool(policy)({"command": command})
    assert observation.startswith("exit code 0"), observation
    assert expected in observation, observation
