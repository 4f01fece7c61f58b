"""The values that move between modules: messages, model replies, usage figures, model facts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant", "tool"]
# What a request to the model is for; each has its own cap on generated tokens.
# plan: the first request of a question (small models write their plan, then the first call);
# tool: a later request with the tools offered (a call, or the answer from the results in view);
# answer: a request for the answer alone, tools withheld.
Purpose = Literal["plan", "tool", "answer"]
PURPOSES: tuple[Purpose, ...] = ("plan", "tool", "answer")


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_name: str = ""


@dataclass(frozen=True)
class Usage:
    """What Ollama reports for one request. Durations are seconds.

    Ollama counts cached prompt tokens in `prompt_tokens` but only times the uncached ones in
    `prompt_eval_s`, so energy must come from durations, never from token counts alone.

    `estimated` is set when a figure is ours, not Ollama's: a reply stopped before its final chunk
    (cut by smallagent, timed out, interrupted) never gets Ollama's counters, so its tokens are the
    chunks received (one token each) and its durations the elapsed time, prompt up to the first
    chunk, generation after it.
    """

    prompt_tokens: int = 0
    generated_tokens: int = 0
    prompt_eval_s: float = 0.0
    eval_s: float = 0.0
    load_s: float = 0.0
    total_s: float = 0.0
    estimated: bool = False

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            generated_tokens=self.generated_tokens + other.generated_tokens,
            prompt_eval_s=self.prompt_eval_s + other.prompt_eval_s,
            eval_s=self.eval_s + other.eval_s,
            load_s=self.load_s + other.load_s,
            total_s=self.total_s + other.total_s,
            estimated=self.estimated or other.estimated,
        )

    @property
    def generation_tokens_per_s(self) -> float:
        return self.generated_tokens / self.eval_s if self.eval_s > 0 else 0.0


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token and the model's log-probability of it (Ollama's `logprobs`)."""

    token: str
    logprob: float


@dataclass(frozen=True)
class ModelReply:
    message: Message
    usage: Usage
    model: str
    # Ollama's ("stop", "length": cut at num_predict), or smallagent's own when it ended the
    # stream: "length" (the server ignored the cap), "repetition", "time_limit" (--max-seconds).
    done_reason: str = ""
    detail: str = ""  # why a reply was stopped early, in words, for the model and the trace
    # Each generated token's log-probability, when the model was asked for them (a model that
    # may be escalated from: how sure it was is one of the signals).
    logprobs: tuple[TokenLogprob, ...] = ()


@dataclass(frozen=True)
class ModelInfo:
    """What the server says about a model (`ollama show`)."""

    name: str
    capabilities: tuple[str, ...] = ()
    family: str = ""
    parameter_size: str = ""
    quantization: str = ""
    context_length: int = 0

    @property
    def supports_tools(self) -> bool:
        return "tools" in self.capabilities


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the model sees it: name, description, JSON schema of its parameters."""

    name: str
    description: str
    parameters: Mapping[str, Any] = field(default_factory=dict)


class Model(Protocol):
    """What the agent loop needs from a model: OllamaModel, or a scripted one in tests."""

    name: str

    def chat(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        purpose: Purpose = "tool",
        reply_format: Mapping[str, Any] | None = None,  # a JSON schema the reply must match
    ) -> ModelReply: ...
