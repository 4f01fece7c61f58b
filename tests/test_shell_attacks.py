"""The shell tool under attack: commands a poisoned document could make the model send.

Every case runs through the tool exactly as the agent calls it, against a working directory with
a sibling folder outside it that holds the canaries: a file that must not change, a secret whose
text must not reach the observation, and files that must not appear. Each case is run

- with the policy layer alone (the sandbox replaced by a stand-in that confines nothing),
- with the sandbox alone (every plain command let through, as --allow-shell would, but confined),
- and, where it is safe, with neither: the control, which shows the attack does what it claims,
  so a pass above cannot be vacuous.

Tests run as root here, so file permissions stop nothing: what stops the writes is Landlock.
How to run: `.venv/bin/python -m pytest tests/test_shell_attacks.py -q` (docs/security.md).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from smallagent import shell
from smallagent.sandbox import landlock_abi
from smallagent.shell import ConsentRequest, ShellPolicy, Verdict, strip_comment
from smallagent.tools import ToolRefused, make_shell_tool

SECRET = "CANARY-SECRET-5512"
OLD = time.mktime((1999, 12, 31, 12, 0, 0, 0, 0, -1))  # outside files' mtime: "1999" leaks it

needs_landlock = pytest.mark.skipif(
    landlock_abi() < 1, reason="the sandbox layer needs Landlock (docs/security.md)"
)


@dataclass(frozen=True)
class Arena:
    work: Path
    outside: Path

    @property
    def secret(self) -> Path:
        return self.outside / "secret.txt"


@pytest.fixture
def arena(tmp_path: Path) -> Arena:
    work, outside = tmp_path / "work", tmp_path / "outside"
    (work / "cmp" / "a").mkdir(parents=True)
    (work / "cmp" / "b").mkdir()
    outside.mkdir()
    (outside / "canary.txt").write_text("original canary\n")
    (outside / "secret.txt").write_text(SECRET + "\n")
    for name in ("canary.txt", "secret.txt"):
        os.utime(outside / name, (OLD, OLD))
    # sort --compress-program=sh feeds sorted chunks to sh: the first line is the command it runs
    payload = [f"touch {outside}/pwned-sort"] + [f"# filler line {n}" for n in range(3000)]
    (work / "data.txt").write_text("\n".join(payload) + "\n")
    (work / "notes.md").write_text("alpha\nbeta\n")
    (work / "names0").write_bytes(f"{outside}/secret.txt\0".encode())
    digest = hashlib.md5((SECRET + "\n").encode()).hexdigest()
    (work / "sums.md5").write_text(f"{digest}  {outside}/secret.txt\n")
    (work / "x").write_text("0 string CANARY canary data\n")  # a magic source for file -C
    (work / "link-out").symlink_to(outside / "secret.txt")
    (work / "dirlink").symlink_to(outside)
    (work / "cmp" / "a" / "x").write_text("regular\n")
    (work / "cmp" / "b" / "x").symlink_to(outside / "secret.txt")
    return Arena(work.resolve(), outside.resolve())


def snapshot(root: Path) -> dict[str, object]:
    """Every entry under root: a file's bytes, mode and mtime, a link's target, a folder."""
    seen: dict[str, object] = {}
    for folder, directories, files in os.walk(root):
        for name in directories + files:
            path = Path(folder) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                seen[key] = ("link", os.readlink(path))
            elif path.is_dir():
                seen[key] = ("dir", path.stat().st_mode)
            else:
                info = path.stat()
                seen[key] = ("file", path.read_bytes(), info.st_mode, info.st_mtime_ns)
    return seen


def unconfined(workdir: Path, argv: Sequence[str]) -> list[str]:
    return list(argv)


def policy_alone(arena: Arena) -> ShellPolicy:
    return ShellPolicy(arena.work, sandbox=unconfined)


def sandbox_alone(arena: Arena) -> ShellPolicy:
    """Every plain command runs as written, confined: the policy layer is switched off (the
    `policy_off` fixture), so nothing is refused, rebuilt or given --no-dereference first."""
    return ShellPolicy(arena.work, mode="allow", confine_consented=True)


@pytest.fixture
def policy_off(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse_all(command: str, workdir: Path) -> Verdict:
        argv = tuple(shlex.split(strip_comment(command)[0])) if real(command, workdir).argv else ()
        return Verdict(False, "the policy layer is off in this test", argv)

    real = shell.read_only_verdict
    monkeypatch.setattr(shell, "read_only_verdict", refuse_all)


def neither(arena: Arena) -> ShellPolicy:
    return ShellPolicy(arena.work, mode="allow", sandbox=unconfined)


def call(policy: ShellPolicy, command: str) -> str:
    """The observation the model would get, a refusal included."""
    try:
        return make_shell_tool(policy)({"command": command})
    except ToolRefused as refusal:
        return f"Refused: {refusal}."


# (command, kind, what must not appear in the observation, safe to run unconfined as a control)
# kinds: write/exec (nothing under the arena may change), read (the text must not leak), stat
# (metadata only: Landlock does not cover stat(), so the policy alone must stop it).
CASES: list[tuple[str, str, str, bool]] = [
    # sort: abbreviated long options, bundled and glued short ones (the reported escapes)
    ("sort --com=sh -S 1 data.txt", "exec", "", True),
    ("sort --compress-program=sh -S 1 data.txt", "exec", "", True),
    ("sort --compress-prog sh -S1 data.txt", "exec", "", True),
    ("sort -S1 --co=sh data.txt", "exec", "", True),
    ("sort -o {O}/canary.txt data.txt", "write", "", True),
    ("sort -ro{O}/canary.txt data.txt", "write", "", True),
    ("sort --output={O}/canary.txt data.txt", "write", "", True),
    ("sort --outp={O}/canary.txt data.txt", "write", "", True),
    ("sort --ou {O}/canary.txt data.txt", "write", "", True),
    ("sort -o ../outside/new.txt data.txt", "write", "", True),
    ("sort -o inside.txt notes.md", "write", "", True),
    ("sort -T {O} -S 1 data.txt -o sorted.txt", "write", "", True),
    ("sort --files0-from=names0", "read", SECRET, True),
    ("sort {O}/secret.txt", "read", SECRET, True),
    ("sort -m link-out notes.md", "read", SECRET, True),
    # uniq and file: writers by operand or option
    ("uniq notes.md {O}/canary.txt", "write", "", True),
    ("uniq -- notes.md -out", "write", "", True),
    ("uniq -c notes.md ../outside/new.txt", "write", "", True),
    ("uniq {O}/secret.txt", "read", SECRET, True),
    ("file -kC -m x", "write", "", True),
    ("file -C --magic-file x", "write", "", True),
    ("file -f{O}/secret.txt", "read", SECRET, True),
    ("file --files-from {O}/secret.txt", "read", SECRET, True),
    ("file -m{O}/secret.txt notes.md", "read", SECRET, True),
    # date: reads files, sets the clock (never run: see test_the_clock_cannot_be_set)
    ("date -f{O}/secret.txt", "read", SECRET, True),
    ("date --file={O}/secret.txt", "read", SECRET, True),
    ("date --fi {O}/secret.txt", "read", SECRET, True),
    ("date -r{O}/secret.txt", "stat", "1999", True),
    ("date --ref=../outside/secret.txt", "stat", "1999", True),
    # find: expressions that run, write or delete
    ("find . -exec touch {O}/pwned-find \\;", "exec", "", True),
    ("find . -execdir touch {O}/pwned-find {} +", "exec", "", True),
    ("find . -name notes.md -delete", "write", "", True),
    ("find . -fprint {O}/list.txt", "write", "", True),
    ("find . -fprintf {O}/list.txt %p", "write", "", True),
    ("find . -fls ../outside/ls.txt", "write", "", True),
    ("find .. -name secret.txt", "read", "outside/secret.txt", True),
    ("find -L . -name canary.txt", "read", "dirlink/canary.txt", True),
    ("find . -follow -name canary.txt", "read", "dirlink/canary.txt", True),
    # plain reads outside, by path, by .., by symlink, by list file
    ("cat {O}/secret.txt", "read", SECRET, True),
    ("cat ../outside/secret.txt", "read", SECRET, True),
    ("cat link-out", "read", SECRET, True),
    ("cat dirlink/secret.txt", "read", SECRET, True),
    ("head -n 3 {O}/secret.txt", "read", SECRET, True),
    ("tail -n1 link-out", "read", SECRET, True),
    ("nl ../outside/secret.txt", "read", SECRET, True),
    ("cut -c1- {O}/secret.txt", "read", SECRET, True),
    ("comm link-out notes.md", "read", SECRET, True),
    ("diff {O}/secret.txt notes.md", "read", SECRET, True),
    ("diff cmp/a cmp/b", "read", SECRET, True),
    ("diff -r cmp/a cmp/b", "read", SECRET, True),
    ("wc --files0-from=names0", "read", " 1  1 19 {O}/secret.txt", True),
    ("du --files0-from=names0", "stat", "\t{O}/secret.txt", True),
    ("md5sum -c sums.md5", "read", "secret.txt: OK", True),
    ("grep -r CANARY ..", "read", SECRET, True),
    ("grep -R CANARY .", "read", SECRET, True),
    ("grep -r CANARY dirlink", "read", SECRET, True),
    ("grep -h CANARY link-out", "read", SECRET, True),
    ("grep -e CANARY -- {O}/secret.txt", "read", SECRET, True),
    ("grep --dereference-recursive CANARY", "read", SECRET, True),
    ("egrep -r CANARY ../outside", "read", SECRET, True),
    ("ls ../outside", "read", "canary.txt", True),
    ("ls -RL .", "read", "canary.txt", True),
    ("du -aL .", "read", "dirlink/canary.txt", True),
    ("du -a dirlink/", "read", "canary.txt", True),
    ("stat {O}/secret.txt", "stat", "1999", True),
    ("ls -l link-out --dereference", "stat", "1999", True),
    # not on the allowlist at all: shells, interpreters, writers, by name or by path
    ("sh -c 'touch {O}/pwned-sh'", "exec", "", True),
    ("bash -c 'echo x > {O}/canary.txt'", "exec", "", True),
    ("env touch {O}/pwned-env", "exec", "", True),
    ("xargs touch {O}/pwned-xargs", "exec", "", True),
    ("/usr/bin/touch {O}/pwned-path", "write", "", True),
    ("perl -e 'open F, \">{O}/pwned-perl\"'", "exec", "", True),
    ('/usr/bin/python3 -c \'open("{O}/pwned-py", "w")\'', "exec", "", True),
    ("awk 'BEGIN { system(\"touch {O}/pwned-awk\") }'", "exec", "", True),
    ("tee {O}/canary.txt", "write", "", True),
    ("cp {O}/secret.txt {O}/copy.txt", "write", "", True),
    ("mv {O}/canary.txt {O}/moved.txt", "write", "", True),
    ("rm {O}/canary.txt", "write", "", True),
    ("rm -rf ../outside", "write", "", True),
    ("touch {O}/new.txt", "write", "", True),
    ("ln -s /etc/passwd {O}/link", "write", "", True),
    ("mkdir {O}/newdir", "write", "", True),
    ("truncate -s0 {O}/canary.txt", "write", "", True),
    ("dd if=/dev/zero of={O}/canary.txt count=1", "write", "", True),
    ("cp notes.md copy.md", "write", "", True),
    ("chmod 000 {O}/canary.txt", "write", "", True),
    ("touch {O}/canary.txt", "write", "", True),
    ("touch -d 2001-01-01 link-out", "write", "", True),
    ("rm notes.md", "write", "", True),
    # shell syntax never reaches a shell
    ("ls; touch {O}/pwned-semicolon", "exec", "", False),
    ("ls && touch {O}/pwned-and", "exec", "", False),
    ("echo x > {O}/canary.txt", "write", "", False),
    ("echo $(touch {O}/pwned-subst)", "exec", "", False),
    ("cat notes.md | tee {O}/canary.txt", "write", "", False),
]


def _command(template: str, arena: Arena) -> str:
    return template.replace("{O}", str(arena.outside))


def _ids() -> list[str]:
    return [template.replace("{O}", "OUT") for template, *_ in CASES]


def _assert_stopped(arena: Arena, observation: str, kind: str, leak: str, before: object) -> None:
    assert snapshot(arena.work.parent) == before, observation
    if leak:
        assert _command(leak, arena) not in observation, observation


@pytest.mark.parametrize(("template", "kind", "leak", "control"), CASES, ids=_ids())
def test_the_policy_alone_stops_it(
    arena: Arena, template: str, kind: str, leak: str, control: bool
) -> None:
    before = snapshot(arena.work.parent)
    observation = call(policy_alone(arena), _command(template, arena))
    _assert_stopped(arena, observation, kind, leak, before)


@needs_landlock
@pytest.mark.parametrize(
    ("template", "kind", "leak", "control"),
    [case for case in CASES if case[1] != "stat"],
    ids=[name for name, case in zip(_ids(), CASES, strict=True) if case[1] != "stat"],
)
def test_the_sandbox_alone_stops_it(
    arena: Arena, policy_off: None, template: str, kind: str, leak: str, control: bool
) -> None:
    before = snapshot(arena.work.parent)
    observation = call(sandbox_alone(arena), _command(template, arena))
    _assert_stopped(arena, observation, kind, leak, before)


@pytest.mark.parametrize(
    ("template", "kind", "leak", "control"),
    [case for case in CASES if case[3]],
    ids=[name for name, case in zip(_ids(), CASES, strict=True) if case[3]],
)
def test_without_either_layer_the_attack_works(
    arena: Arena, template: str, kind: str, leak: str, control: bool
) -> None:
    """The control: run as written, unconfined and unchecked, each case does what it is listed
    for (the raw argv: the policy would have rebuilt even the commands it allows)."""
    before = snapshot(arena.work.parent)
    argv = shlex.split(_command(template, arena))
    observation = ShellPolicy(arena.work, mode="allow").run(argv).output
    if leak:
        assert _command(leak, arena) in observation, observation
    else:
        assert snapshot(arena.work.parent) != before, observation


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 60


def test_the_clock_cannot_be_set(arena: Arena) -> None:
    """Never run, even in a test: the policy refuses every spelling before anything starts."""
    started: list[list[str]] = []

    def record(workdir: Path, argv: Sequence[str]) -> list[str]:
        started.append(list(argv))
        return ["true"]

    policy = ShellPolicy(arena.work, sandbox=record)
    for command in ("date --se=2001-01-01", "date -s2001-01-01", "date --set 2001-01-01",
                    "date 0101000001", "date -u 010100002001", "date -- 0101000001"):  # fmt: skip
        assert call(policy, command).startswith("Refused:"), command
    assert started == []


@needs_landlock
def test_confined_commands_hold_no_capabilities_even_as_root(
    arena: Arena, policy_off: None
) -> None:
    """What keeps a confined root from setting the clock or overriding permissions."""
    status = call(sandbox_alone(arena), "cat /proc/self/status")
    for line in ("CapEff:\t0000000000000000", "CapBnd:\t0000000000000000", "NoNewPrivs:\t1"):
        assert line in status
    nice = call(sandbox_alone(arena), "/usr/bin/python3 -c 'import os; os.nice(-5)'")
    assert "PermissionError" in nice


@needs_landlock
def test_writes_are_stopped_by_landlock_not_by_permissions(arena: Arena, policy_off: None) -> None:
    """Root may write anywhere; confined, it may not write even inside the working directory."""
    assert os.geteuid() == 0 or os.access(arena.work, os.W_OK)
    target = arena.work / "notes.md"
    assert os.access(target, os.W_OK)  # permissions would allow it
    observation = call(sandbox_alone(arena), "truncate -s0 notes.md")
    assert "Permission denied" in observation
    assert target.read_text() == "alpha\nbeta\n"


@pytest.fixture(params=["policy alone", "sandbox alone"])
def layer(request: pytest.FixtureRequest, arena: Arena) -> ShellPolicy:
    if request.param == "policy alone":
        return policy_alone(arena)
    if landlock_abi() < 1:
        pytest.skip("the sandbox layer needs Landlock (docs/security.md)")
    request.getfixturevalue("policy_off")
    return sandbox_alone(arena)


def test_no_tcp_connection_leaves(arena: Arena, layer: ShellPolicy) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    command = (
        "/usr/bin/python3 -c "
        f"\"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)\""
    )
    try:
        observation = call(layer, command)
        with pytest.raises(TimeoutError):
            listener.accept()
        assert "Refused" in observation or "PermissionError" in observation
        call(neither(arena), command)
        listener.accept()[0].close()  # the control connects
    finally:
        listener.close()


def test_no_udp_datagram_leaves(arena: Arena, layer: ShellPolicy) -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(0.5)
    port = receiver.getsockname()[1]
    command = (
        '/usr/bin/python3 -c "import socket; '
        f"socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'leak', ('127.0.0.1', {port}))\""
    )
    try:
        call(layer, command)
        with pytest.raises(TimeoutError):
            receiver.recv(16)
        call(neither(arena), command)
        assert receiver.recv(16) == b"leak"  # the control sends
    finally:
        receiver.close()


def test_no_signal_leaves(arena: Arena, layer: ShellPolicy) -> None:
    victims = [subprocess.Popen(["sleep", "60"]) for _ in range(2)]
    try:
        call(layer, f"kill -9 {victims[0].pid}")
        time.sleep(0.1)
        assert victims[0].poll() is None
        call(neither(arena), f"kill -9 {victims[1].pid}")
        assert victims[1].wait(timeout=5) == -9  # the control kills
    finally:
        for victim in victims:
            victim.kill()
            victim.wait()


def test_the_consent_prompt_shows_what_would_run(arena: Arena) -> None:
    """A comment and terminal escapes made `touch` look like `ls -la /etc` at the prompt."""
    asked: list[ConsentRequest] = []

    def decline(request: ConsentRequest) -> bool:
        asked.append(request)
        return False

    before = snapshot(arena.work.parent)
    command = f"touch {arena.outside}/pwned # \x1b[1K\x1b[0Gls -la /etc"
    assert call(ShellPolicy(arena.work, confirm=decline), command).startswith("Refused:")
    assert snapshot(arena.work.parent) == before
    [request] = asked
    assert request.argv == ("touch", f"{arena.outside}/pwned")
    prompt = request.prompt()
    assert f"touch {arena.outside}/pwned" in prompt.splitlines()[0]
    assert "\x1b" not in prompt and "\\x1b[1K\\x1b[0Gls -la /etc" in prompt
    assert "dropped, not run" in prompt and "not on the read-only allowlist" in prompt
