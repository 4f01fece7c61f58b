"""The shell policy against a real shell-less runner: what runs, what is refused, and why."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from smallagent.shell import ConsentRequest, ShellPolicy, read_only_verdict
from smallagent.tools import ToolRefused, make_shell_tool


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "a.md").write_text("alpha\nbeta\n")
    (tmp_path / "b.md").write_text("gamma\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.md").write_text("delta\n")
    return tmp_path


def test_allowlisted_commands_run_without_a_shell(workdir: Path) -> None:
    shell = make_shell_tool(ShellPolicy(workdir))
    found = shell({"command": "find . -name '*.md'"}).splitlines()
    assert found[0] == "exit code 0, 3 lines of output"  # small models count badly: say it
    assert sorted(found[1:]) == ["./a.md", "./b.md", "./sub/c.md"]
    assert shell({"command": "wc -l a.md"}) == "exit code 0, 1 line of output\n2 a.md"
    assert shell({"command": "grep -c a a.md"}) == "exit code 0, 1 line of output\n2"


def test_a_pipeline_runs_its_first_command_alone_when_that_is_allowed(workdir: Path) -> None:
    shell = make_shell_tool(ShellPolicy(workdir))
    observation = shell({"command": "find . -name '*.md' | wc -l"}).splitlines()
    assert observation[0] == (
        "Pipes do not run here, so only `find . -name '*.md'` ran. exit code 0, 3 lines of output"
    )
    assert sorted(observation[1:]) == ["./a.md", "./b.md", "./sub/c.md"]
    with pytest.raises(ToolRefused, match="`rm` is not on the read-only allowlist"):
        shell({"command": "rm a.md | cat"})
    with pytest.raises(ToolRefused, match="`;` is not allowed"):
        shell({"command": "ls; rm a.md | cat"})
    with pytest.raises(ToolRefused, match=r"`\|` is not allowed"):
        shell({"command": "| wc -l | cat"})
    assert (workdir / "a.md").exists()
    assert shell({"command": "cat missing.txt"}).startswith(
        "exit code 1, 1 line of output\ncat: missing"
    )


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        ("ls | wc -l", "`|` is not allowed"),
        ("cat a.md > b.md", "`>` is not allowed"),
        ("ls; rm -rf ~", "`;` is not allowed"),
        ("ls && rm a.md", "`&&` is not allowed"),
        ("echo $(rm a.md)", "`$(` is not allowed"),
        ("echo `rm a.md`", "``` is not allowed: commands run without a shell"),
        ("rm -rf ~", "`rm` is not on the read-only allowlist"),
        ("find . -delete", "`find -delete` can write"),
        ("find . -exec rm {} +", "`find -exec` can write"),
        ("sort -o out.txt a.md", "`sort -o` can write"),
        ("sort --output=out.txt a.md", "`sort --output` can write"),
        ("uniq a.md out.txt", "`uniq INPUT OUTPUT` writes a file"),
        ("cat /etc/passwd", "`/etc/passwd` is outside the working directory"),
        ("cat ../secret", "`../secret` is outside the working directory"),
        ("grep -r root ~", "`~` is outside the working directory"),
        ("/bin/ls", "give the command by name"),
        ("ls\nrm a.md", "a newline is not allowed"),
        ("", "the command is empty"),
        ("cat 'unclosed", "cannot parse"),
    ],
)
def test_refusals_name_the_reason(workdir: Path, command: str, reason: str) -> None:
    verdict = read_only_verdict(command, workdir)
    assert not verdict.allowed
    assert reason in verdict.reason


def test_a_symlink_out_of_the_workdir_is_refused(
    workdir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.txt"
    outside.write_text("secret")
    (workdir / "link").symlink_to(outside)
    assert "outside the working directory" in read_only_verdict("cat link", workdir).reason


def test_non_interactive_runs_refuse_and_report(workdir: Path) -> None:
    shell = make_shell_tool(ShellPolicy(workdir))
    with pytest.raises(ToolRefused) as refused:
        shell({"command": "rm a.md"})
    assert str(refused.value).startswith("`rm` is not on the read-only allowlist")
    assert "no one to ask" in str(refused.value)
    assert (workdir / "a.md").exists()


def test_a_refusal_reaches_the_model_as_a_mistake_not_a_result(workdir: Path) -> None:
    from smallagent.agent import AgentRun
    from smallagent.types import Message, ModelReply, ToolCall, Usage

    class TwoReplies:
        name = "scripted"

        def __init__(self) -> None:
            self.replies = [
                ToolCall("shell", {"command": "rm a.md"}),
                ToolCall("shell", {"command": "ls"}),
            ]

        def chat(self, messages: object, tools: object = (), purpose: str = "tool") -> ModelReply:
            call = self.replies.pop(0)
            return ModelReply(Message("assistant", "", tool_calls=(call,)), Usage(), "scripted")

    run = AgentRun(TwoReplies(), {"shell": make_shell_tool(ShellPolicy(workdir))}, "s", "q?")
    iter_run = iter(run)
    refused, listed = [next(iter_run), next(iter_run)]
    assert refused.kind == "error"
    assert refused.observation.startswith("Refused: `rm` is not on the read-only allowlist")
    assert "reply with the answer now" not in refused.observation
    assert listed.kind == "tool" and "a.md" in listed.observation
    assert (workdir / "a.md").exists()


def test_consent_prompt_decides(workdir: Path) -> None:
    asked: list[ConsentRequest] = []

    def no(request: ConsentRequest) -> bool:
        asked.append(request)
        return False

    with pytest.raises(ToolRefused, match="the user declined"):
        make_shell_tool(ShellPolicy(workdir, confirm=no))({"command": "touch x"})
    assert [request.command for request in asked] == ["touch x"]
    assert not (workdir / "x").exists()
    yes = make_shell_tool(ShellPolicy(workdir, confirm=lambda command: True))
    assert yes({"command": "touch x"}) == "exit code 0, no output"
    assert (workdir / "x").exists()


def test_allow_all_still_has_no_shell(workdir: Path) -> None:
    policy = ShellPolicy(workdir, mode="allow")
    assert policy.decide("touch y").allowed
    assert not policy.decide("touch y; rm a.md").allowed


def test_off_refuses_everything(workdir: Path) -> None:
    assert "disabled" in ShellPolicy(workdir, mode="off").decide("ls").reason


def test_timeout_kills_the_process_group(workdir: Path) -> None:
    policy = ShellPolicy(workdir, mode="allow", timeout_s=1)
    marker = workdir / "survivor"
    script = workdir / "spawn.sh"
    script.write_text(f"sleep 30 &\nsleep 3; touch {marker}\n")
    started = time.monotonic()
    result = policy.run(("sh", str(script)))
    assert result.exit_code is None
    assert "killed after 1 s timeout" in result.output
    assert time.monotonic() - started < 5
    time.sleep(3)
    assert not marker.exists()


def test_output_is_capped(workdir: Path) -> None:
    (workdir / "big.txt").write_text("y" * 100_000)
    result = ShellPolicy(workdir, output_limit=1000).run(("cat", "big.txt"))
    assert result.truncated
    assert result.output.startswith(
        "y" * 1000 + "\n[output truncated: 100000 bytes, first 1000 shown]"
    )


def test_one_answer_per_argv_in_a_run(workdir: Path) -> None:
    asked: list[str] = []

    def answer(request: ConsentRequest) -> bool:
        asked.append(request.command)
        return request.argv[0] == "true"

    shell = make_shell_tool(ShellPolicy(workdir, confirm=answer))
    for _ in range(2):
        with pytest.raises(ToolRefused, match="the user declined"):
            shell({"command": "touch x"})
    with pytest.raises(ToolRefused, match="the user declined earlier in this run"):
        shell({"command": "touch  'x'  # same argv, written differently"})
    assert shell({"command": "true"}) == shell({"command": "true"}) == "exit code 0, no output"
    assert asked == ["touch x", "true"]


def test_time_at_the_prompt_is_not_booked_as_tool_time(workdir: Path) -> None:
    from smallagent.agent import AgentConfig
    from smallagent.assistant import Assistant
    from smallagent.config import AskOptions
    from smallagent.energy import MeteredModel
    from smallagent.retrieval import SourceRegistry
    from smallagent.types import Message, ModelReply, ToolCall, Usage

    class OneCall:
        name = "scripted"

        def chat(self, messages: object, tools: object = (), purpose: str = "tool") -> ModelReply:
            call = ToolCall("shell", {"command": "true"})
            return ModelReply(Message("assistant", "", tool_calls=(call,)), Usage(), "scripted")

    def slow_yes(request: ConsentRequest) -> bool:
        time.sleep(2.0)  # the user thinking
        return True

    policy = ShellPolicy(workdir, confirm=slow_yes)
    assistant = Assistant(
        model=MeteredModel(OneCall(), counters=[]),
        tools={"shell": make_shell_tool(policy)},
        sources=SourceRegistry(),
        system_prompt="s",
        config=AgentConfig(max_steps=1),
        options=AskOptions(workdir=workdir),
        params_billion=None,
        notes=[],
        shell=policy,
    )
    [step] = list(assistant.ask("q?"))
    assert step.kind == "tool" and policy.waited_s >= 2.0
    # The command only: `true` took 0.59 s in one run on this 2-core machine at load 15, so the
    # bound leaves room for that and still fails if the 2 s at the prompt were counted.
    assert step.tool_seconds < 1.5


def test_without_landlock_only_the_minimal_set_runs_unasked(workdir: Path) -> None:
    policy = ShellPolicy(workdir, sandbox=None)
    listed = policy.decide("ls -la")
    assert listed.allowed and not listed.confined
    refused = policy.decide("sort a.md")
    assert not refused.allowed
    assert "the kernel sandbox (Landlock) is unavailable" in refused.reason
    assert "no one to ask" in refused.reason
    asked = ShellPolicy(workdir, sandbox=None, confirm=lambda request: True).decide("sort a.md")
    assert asked.allowed and asked.argv == ("sort", "--", "a.md") and not asked.confined
    assert policy.run(("ls",), confined=True).output == "not run: the kernel sandbox is unavailable"


def test_doctor_says_whether_commands_are_confined() -> None:
    from smallagent.doctor import check_sandbox

    assert check_sandbox(7).status == "ok" and "no TCP" in check_sandbox(7).detail
    missing = check_sandbox(0)
    assert missing.status == "warn" and "Landlock is unavailable" in missing.detail
    assert "sort" not in missing.detail.split("only ")[1].split(" run")[0]


def test_nothing_the_model_wrote_reaches_the_terminal_raw(workdir: Path) -> None:
    asked: list[ConsentRequest] = []
    policy = ShellPolicy(workdir, confirm=lambda request: asked.append(request) or False)
    policy.decide("'l\x1b]0;owned\x07s' '\u202eevil' # \x9b2J")
    prompt = asked[0].prompt()
    assert not any((ord(c) < 32 and c != "\n") or 0x7F <= ord(c) < 0xA0 for c in prompt)
    assert "\u202e" not in prompt and "\\u202e" in prompt and "\\x1b]0;owned\\x07" in prompt
