"""The only module that talks to Ollama: chat with tools, usage figures, model facts, pulls.

Transport failures become OllamaUnavailableError and missing models ModelNotFoundError, each with a
hint that says what to do, so no caller ever sees an httpx or ollama exception.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from smallagent.errors import ModelNotFoundError, OllamaUnavailableError
from smallagent.types import Message, ModelInfo, ModelReply, ToolCall, ToolSpec, Usage

if TYPE_CHECKING:
    import ollama

NANOSECONDS = 1e9
T = TypeVar("T")


@dataclass(frozen=True)
class PullProgress:
    status: str
    completed: int = 0
    total: int = 0


def _unavailable(host: str, detail: str) -> OllamaUnavailableError:
    return OllamaUnavailableError(
        f"cannot reach Ollama at {host} ({detail})",
        hint="start it with `ollama serve` (or set --ollama-host / OLLAMA_HOST to where it runs)",
    )


@contextmanager
def _translated_errors(host: str, model: str = "") -> Iterator[None]:
    import httpx
    import ollama

    try:
        yield
    except ollama.ResponseError as error:
        if error.status_code == 404 and model:
            raise ModelNotFoundError(
                f"model {model!r} is not on the Ollama server at {host}",
                hint=f"run `smallagent models pull {model}` or `ollama pull {model}`",
            ) from None
        raise OllamaUnavailableError(
            f"Ollama at {host} answered {error.status_code}: {error.error}",
            hint="see the server's log; `smallagent doctor` checks the setup",
        ) from None
    except (ConnectionError, httpx.ConnectError) as error:
        raise _unavailable(host, "connection refused") from error
    except httpx.TimeoutException as error:
        raise _unavailable(host, "timed out") from error
    except httpx.HTTPError as error:
        raise _unavailable(host, type(error).__name__) from error


def _seconds(nanoseconds: int | None) -> float:
    return (nanoseconds or 0) / NANOSECONDS


def usage_from_response(response: ollama.ChatResponse) -> Usage:
    return Usage(
        prompt_tokens=response.prompt_eval_count or 0,
        generated_tokens=response.eval_count or 0,
        prompt_eval_s=_seconds(response.prompt_eval_duration),
        eval_s=_seconds(response.eval_duration),
        load_s=_seconds(response.load_duration),
        total_s=_seconds(response.total_duration),
    )


def _to_wire(message: Message) -> dict[str, Any]:
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        wire["tool_calls"] = [
            {"function": {"name": call.name, "arguments": dict(call.arguments)}}
            for call in message.tool_calls
        ]
    if message.tool_name:
        wire["tool_name"] = message.tool_name
    return wire


def _tool_to_wire(spec: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": spec.name,
            "description": spec.description,
            "parameters": dict(spec.parameters),
        },
    }


class OllamaModel:
    """A model on an Ollama server, behind the small `Model` protocol the agent loop uses."""

    def __init__(
        self,
        host: str,
        name: str,
        *,
        timeout_s: float = 600.0,
        options: dict[str, Any] | None = None,
        keep_alive: str | float | None = None,
    ) -> None:
        import ollama

        self.host = host
        self.name = name
        self.options = dict(options or {})
        self.keep_alive = keep_alive
        self._client = ollama.Client(host=host, timeout=timeout_s)

    def _call(self, request: Callable[[], T]) -> T:
        with _translated_errors(self.host, self.name):
            return request()

    def chat(self, messages: Sequence[Message], tools: Sequence[ToolSpec] = ()) -> ModelReply:
        response = self._call(
            lambda: self._client.chat(
                model=self.name,
                messages=[_to_wire(message) for message in messages],
                tools=[_tool_to_wire(spec) for spec in tools] or None,
                options=self.options or None,
                keep_alive=self.keep_alive,
            )
        )
        calls = tuple(
            ToolCall(name=call.function.name, arguments=dict(call.function.arguments or {}))
            for call in (response.message.tool_calls or [])
        )
        return ModelReply(
            message=Message(
                role="assistant", content=response.message.content or "", tool_calls=calls
            ),
            usage=usage_from_response(response),
            model=response.model or self.name,
            done_reason=response.done_reason or "",
        )

    def info(self) -> ModelInfo:
        response = self._call(lambda: self._client.show(self.name))
        details = response.details
        model_info = dict(response.modelinfo or {})
        context_length = next(
            (int(v) for k, v in model_info.items() if k.endswith(".context_length")), 0
        )
        return ModelInfo(
            name=self.name,
            capabilities=tuple(response.capabilities or ()),
            family=(details.family or "") if details else "",
            parameter_size=(details.parameter_size or "") if details else "",
            quantization=(details.quantization_level or "") if details else "",
            context_length=context_length,
        )


class OllamaServer:
    """Server-level questions: is it up, which version, which models, pull one."""

    def __init__(self, host: str, timeout_s: float = 5.0) -> None:
        import ollama

        self.host = host
        self._timeout_s = timeout_s
        self._client = ollama.Client(host=host, timeout=timeout_s)

    def version(self) -> str:
        import httpx

        with _translated_errors(self.host):
            response = httpx.get(f"{self.host}/api/version", timeout=self._timeout_s)
            response.raise_for_status()
            return str(response.json().get("version", "unknown"))

    def model_names(self) -> list[str]:
        with _translated_errors(self.host):
            listing = self._client.list()
        return sorted(entry.model for entry in listing.models if entry.model)

    def pull(self, name: str) -> Iterator[PullProgress]:
        with _translated_errors(self.host, name):
            for update in self._client.pull(name, stream=True):
                yield PullProgress(
                    status=update.status or "",
                    completed=update.completed or 0,
                    total=update.total or 0,
                )
