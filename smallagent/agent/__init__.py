"""The agent box: the loop of one question (`loop`), its nudges (`nudges`), every prompt
(`prompts`), reading what a small model writes (`parsing`), and the values they share (`steps`).
What the rest of smallagent uses of it is named here."""

from smallagent.agent.loop import AgentRun
from smallagent.agent.parsing import ANSWER_SCHEMA, reply_schema
from smallagent.agent.steps import AgentConfig, Result, Step, StepKind, StopReason

__all__ = [
    "ANSWER_SCHEMA",
    "AgentConfig",
    "AgentRun",
    "Result",
    "Step",
    "StepKind",
    "StopReason",
    "reply_schema",
]
