"""The only module that talks to Ollama: chat with tools, usage figures, model facts, pulls.

Transport failures become OllamaUnavailableError and missing models ModelNotFoundError, each with a
hint that says what to do, so no caller ever sees an httpx or ollama exception. A chat reply is
streamed: each request is capped (`num_predict` by what it is for), watched for a loop, and timed,
and when smallagent stops one it closes the stream, which closes the connection, and Ollama stops
generating. Whatever ends a request, what it spent is counted: the error carries it as `spent`.

ollama and httpx are imported where they are used, so that a command that never talks to the
server does not pay for them (measured: docs/benchmarks.md, "Start-up cost of imports").
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from smallagent.errors import (
    GenerationTimeoutError,
    ModelNotFoundError,
    OllamaUnavailableError,
    OllamaUnreachableError,
    RequestInterrupted,
    SmallagentError,
)
from smallagent.repetition import TAIL_CHARS, repeated_phrase
from smallagent.types import (
    Message,
    ModelInfo,
    ModelReply,
    Purpose,
    TokenLogprob,
    ToolCall,
    ToolSpec,
    Usage,
)

if TYPE_CHECKING:
    import ollama

NANOSECONDS = 1e9
CONNECT_TIMEOUT_S = 10.0  # a server that is up accepts at once; longer means it is not there
# Ollama (llm/server.go) aborts a generation once a chunk has repeated the one before it, spaces
# aside, more than 30 times in a row, and ends the stream without its final chunk.
OLLAMA_REPEAT_LIMIT = 30
T = TypeVar("T")


@dataclass(frozen=True)
class PullProgress:
    """One event of a pull as Ollama streams it: a layer's bytes (`digest` set) or a step."""

    status: str
    completed: int = 0
    total: int = 0
    digest: str = ""


@dataclass
class PullTotals:
    """A whole pull as one figure: Ollama reports each layer on its own (its own total, its own
    count), so the bytes are summed over every layer seen so far.

    >>> totals = PullTotals()
    >>> for event in [PullProgress("pulling a", 50, 100, "a"), PullProgress("pulling b", 10, 20,
    ...     "b"), PullProgress("pulling a", 100, 100, "a"), PullProgress("writing manifest")]:
    ...     totals.add(event)
    >>> totals.completed, totals.total, totals.status
    (110, 120, 'writing manifest')
    """

    layers: dict[str, tuple[int, int]] = field(default_factory=dict)  # digest -> (done, size)
    status: str = ""

    def add(self, update: PullProgress) -> None:
        if update.digest and update.total:
            done = max(self.layers.get(update.digest, (0, 0))[0], update.completed)
            self.layers[update.digest] = (min(done, update.total), update.total)
            layers = len(self.layers)
            self.status = f"pulling {layers} layer{'s' if layers > 1 else ''}"
        elif update.status:
            self.status = update.status

    @property
    def completed(self) -> int:
        return sum(done for done, _ in self.layers.values())

    @property
    def total(self) -> int:
        return sum(size for _, size in self.layers.values())


def _unavailable(host: str, detail: str) -> OllamaUnreachableError:
    return OllamaUnreachableError(
        f"cannot reach Ollama at {host} ({detail})",
        hint="start it with `ollama serve` (or set --ollama-host / OLLAMA_HOST to where it runs)",
    )


def _connect_failure(error: BaseException) -> str:
    """Why a connection failed, from the chain under httpx's exception: DNS, refused, or other."""
    cause: BaseException | None = error
    for _ in range(10):  # exception chains are short; the bound only guards against a cycle
        if cause is None:
            break
        if isinstance(cause, socket.gaierror):
            return "cannot resolve the host name"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        cause = cause.__cause__ or cause.__context__
    text = str(error)
    if "Name or service not known" in text or "name resolution" in text:
        return "cannot resolve the host name"
    return "connection refused" if "refused" in text.lower() or not text else text


@contextmanager
def _translated_errors(
    host: str, model: str = "", timeout_s: float | None = None
) -> Iterator[None]:
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
        answered = f"answered {error.status_code}" if error.status_code > 0 else "reported"
        raise OllamaUnavailableError(
            f"Ollama at {host} {answered}: {error.error}",
            hint="see the server's log; `smallagent doctor` checks the setup",
        ) from None
    except httpx.ConnectTimeout as error:
        raise _unavailable(host, "no answer to the connection attempt") from error
    except ConnectionError as error:  # the ollama client's own, for a refused connection
        raise _unavailable(host, _connect_failure(error)) from error
    except httpx.ConnectError as error:
        raise _unavailable(host, _connect_failure(error)) from error
    except httpx.TimeoutException as error:  # connected, then no answer in time: it is up, busy
        within = f" within {timeout_s:g} s" if timeout_s else " in time"
        raise OllamaUnreachableError(
            f"Ollama at {host} accepted the connection but did not answer{within}",
            hint="the server is up but busy; try again, or raise request_timeout_s",
        ) from error
    except (httpx.RemoteProtocolError, httpx.ReadError) as error:
        raise OllamaUnavailableError(
            f"Ollama at {host} closed the connection mid-answer ({type(error).__name__})",
            hint="the server may have crashed or restarted; see its log",
        ) from error
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


@dataclass
class _Stream:
    """What has arrived of one streamed reply, and when: enough to account for it if it is cut."""

    started: float
    prompt_chars: int
    first_chunk_at: float | None = None
    chunks: int = 0
    text: list[str] = field(default_factory=list)
    tail: str = ""  # the end of the text, for the loop detector
    # How many chunks in a row have repeated the one before, spaces aside, counted as Ollama
    # counts them: it ends a stream after OLLAMA_REPEAT_LIMIT such repeats, silently.
    last_piece: str = ""
    repeats: int = 0
    calls: list[ToolCall] = field(default_factory=list)
    logprobs: list[TokenLogprob] = field(default_factory=list)
    final: ollama.ChatResponse | None = None

    def add(self, chunk: ollama.ChatResponse, now: float) -> str:
        if self.first_chunk_at is None:
            self.first_chunk_at = now
        self.chunks += 1
        piece = chunk.message.content or ""
        if piece.strip() == self.last_piece:
            self.repeats += 1
        else:
            self.last_piece, self.repeats = piece.strip(), 0
        self.text.append(piece)
        self.tail = (self.tail + piece)[-TAIL_CHARS:]
        for call in chunk.message.tool_calls or []:  # calls may come in any chunk, even several
            self.calls.append(
                ToolCall(name=call.function.name, arguments=dict(call.function.arguments or {}))
            )
        for token in chunk.logprobs or []:
            self.logprobs.append(TokenLogprob(token.token, token.logprob))
        if chunk.done:
            self.final = chunk
        return piece

    def content(self) -> str:
        return "".join(self.text)

    def estimated_usage(self, now: float) -> Usage:
        """Ollama sends its counters only in the final chunk; without it, our own estimate:
        one token per chunk, prompt time up to the first chunk, generation time after it."""
        first = self.first_chunk_at if self.first_chunk_at is not None else now
        return Usage(
            # about four characters a token, once a chunk shows the prompt was read
            prompt_tokens=self.prompt_chars // 4 if self.chunks else 0,
            generated_tokens=self.chunks,
            prompt_eval_s=first - self.started,
            eval_s=now - first,
            total_s=now - self.started,
            estimated=True,
        )


class OllamaModel:
    """A model on an Ollama server, behind the small `Model` protocol the agent loop uses.

    `caps` gives each kind of request its `num_predict`; `timeout_s` bounds one request and
    `deadline` (a `clock()` time, set per question) bounds them all; `on_text` sees the reply's
    text as it arrives. `logprobs` asks Ollama for each generated token's log-probability.
    """

    def __init__(
        self,
        host: str,
        name: str,
        *,
        timeout_s: float = 600.0,
        options: dict[str, Any] | None = None,
        keep_alive: str | float | None = None,
        caps: Mapping[Purpose, int] | None = None,
        clock: Callable[[], float] = time.monotonic,
        logprobs: bool = False,
    ) -> None:
        import ollama

        self.host = host
        self.name = name
        self.timeout_s = timeout_s
        self.options = dict(options or {})
        self.keep_alive = keep_alive
        self.caps = dict(caps or {})
        self.clock = clock
        self.logprobs = logprobs
        self.deadline: float | None = None
        self.on_text: Callable[[str], None] | None = None
        self._client = ollama.Client(host=host, timeout=timeout_s)

    def _call(self, request: Callable[[], T]) -> T:
        with _translated_errors(self.host, self.name, self.timeout_s):
            return request()

    def chat(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        purpose: Purpose = "tool",
        reply_format: Mapping[str, Any] | None = None,
    ) -> ModelReply:
        cap = self.caps.get(purpose)
        options = {**self.options, **({"num_predict": cap} if cap else {})}
        stream = _Stream(self.clock(), sum(len(message.content) for message in messages))
        limit, by_deadline = self.timeout_s, False
        if self.deadline is not None and self.deadline - stream.started < limit:
            limit, by_deadline = max(self.deadline - stream.started, 0.0), True
        if limit <= 0:
            return self._stopped(stream, "time_limit", "the question's time was already spent")
        request = {
            "model": self.name,
            "messages": [_to_wire(message) for message in messages],
            "tools": [_tool_to_wire(spec) for spec in tools] or None,
            "options": options or None,
            "keep_alive": self.keep_alive,
            "format": dict(reply_format) if reply_format else None,
            **({"logprobs": True} if self.logprobs else {}),
        }
        try:
            read = self._read(stream, request, cap, limit, purpose)
        except KeyboardInterrupt:
            raise RequestInterrupted(stream.estimated_usage(self.clock())) from None
        except SmallagentError as error:
            error.spent = stream.estimated_usage(self.clock())
            raise
        if isinstance(read, ModelReply):
            return read
        reason, detail = read
        if reason != "time":
            return self._stopped(stream, reason, detail)
        if by_deadline:
            detail = "the question's time ran out: " + self._still_generating(stream)
            return self._stopped(stream, "time_limit", detail)
        timeout = GenerationTimeoutError(
            self._still_generating(stream),
            hint="a small model can fall into a loop; lower the num_predict_* caps, or raise "
            "request_timeout_s (SMALLAGENT_REQUEST_TIMEOUT) on a slow machine",
        )
        timeout.spent = stream.estimated_usage(self.clock())
        raise timeout

    def _read(
        self,
        stream: _Stream,
        request: dict[str, Any],
        cap: int | None,
        limit: float,
        purpose: Purpose,
    ) -> ModelReply | tuple[str, str]:
        """Reads the streamed reply into `stream`: the reply when Ollama finishes it, else why
        smallagent stopped reading ("length", "repetition", "time") and the words for it."""
        import httpx
        import ollama

        # One client per request: its read timeout is this request's limit, and closing it when
        # the request ends, however it ends, closes the connection, so Ollama stops generating.
        client = ollama.Client(
            host=self.host, timeout=httpx.Timeout(limit, connect=min(limit, CONNECT_TIMEOUT_S))
        )
        chunks: Iterator[ollama.ChatResponse] | None = None
        try:
            with _translated_errors(self.host, self.name):
                try:
                    chunks = client.chat(**request, stream=True)
                    for chunk in chunks:
                        piece = stream.add(chunk, self.clock())
                        if piece and self.on_text is not None:
                            self.on_text(piece)
                        if stream.final is not None:
                            return self._finished(stream, purpose, cap)
                        stopped = self._stop_reason(stream, cap, limit, purpose)
                        if stopped is not None:
                            return stopped
                except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout):
                    return "time", ""  # connected, and no chunk within the limit
                if stream.repeats >= OLLAMA_REPEAT_LIMIT:
                    # Ollama's own loop guard: the stream just ends, with no final chunk and
                    # nothing in its log at the default level. Three planned tasks of one test
                    # run died on it as server errors; it is a reply that looped, as above.
                    return "repetition", (
                        f"after {stream.chunks} tokens Ollama stopped it: the same token "
                        f"{stream.repeats + 1} times in a row"
                    )
                raise OllamaUnavailableError(
                    f"Ollama at {self.host} ended the reply without its final chunk",
                    hint="see the server's log; `smallagent doctor` checks the setup",
                )
        finally:
            close = getattr(chunks, "close", None)  # a generator: closing it closes the response
            if close is not None:
                close()
            client.close()  # type: ignore[no-untyped-call]

    def _stop_reason(
        self, stream: _Stream, cap: int | None, limit: float, purpose: Purpose
    ) -> tuple[str, str] | None:
        """Why to end the stream now, in smallagent's own words, or None to read on."""
        # Ollama stops itself at num_predict, and then sends its final chunk (one past the cap);
        # a server that does not is cut here.
        if cap and stream.chunks > cap + 1:
            return "length", f"cut at the {cap}-token cap for a {purpose} step"
        phrase = repeated_phrase(stream.tail)
        if phrase is not None:
            return "repetition", f"after {stream.chunks} tokens it kept repeating {phrase!r}"
        if self.clock() - stream.started >= limit:
            return "time", ""
        return None

    def _still_generating(self, stream: _Stream) -> str:
        """What a timeout looks like from here: the server is up, the model is busy."""
        waiting = "" if stream.chunks else " (no token yet: still loading or reading the prompt)"
        return (
            f"the model was still generating after {self.clock() - stream.started:.3g} s / "
            f"{stream.chunks} tokens{waiting} ({self.name} at {self.host})"
        )

    def _finished(self, stream: _Stream, purpose: Purpose, cap: int | None) -> ModelReply:
        final = stream.final
        assert final is not None
        reason = final.done_reason or ""
        usage = usage_from_response(final)
        detail = ""
        if reason == "length":
            detail = f"cut at the {cap or usage.generated_tokens}-token cap for a {purpose} step"
        return ModelReply(
            message=Message("assistant", stream.content(), tool_calls=tuple(stream.calls)),
            usage=usage,
            model=final.model or self.name,
            done_reason=reason,
            detail=detail,
            logprobs=tuple(stream.logprobs),
        )

    def _stopped(self, stream: _Stream, reason: str, detail: str) -> ModelReply:
        return ModelReply(
            message=Message("assistant", stream.content(), tool_calls=tuple(stream.calls)),
            usage=stream.estimated_usage(self.clock()),
            model=self.name,
            done_reason=reason,
            detail=detail,
            logprobs=tuple(stream.logprobs),
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

    def model_sizes(self) -> dict[str, int]:
        """Each model on the server, by name, with its size on disk in bytes."""
        with _translated_errors(self.host):
            listing = self._client.list()
        return {entry.model: int(entry.size or 0) for entry in listing.models if entry.model}

    def describe(self, name: str) -> ModelInfo:
        """What `ollama show NAME` says (parameters, quantization, context, capabilities)."""
        return OllamaModel(self.host, name, timeout_s=self._timeout_s).info()

    def require(self, models: Sequence[str]) -> None:
        """The server answers and has every one of `models`; else say which to pull."""
        available = self.model_names()
        missing = [model for model in models if not has_model(available, model)]
        if missing:
            raise ModelNotFoundError(
                f"not on the server: {', '.join(missing)}",
                hint=f"smallagent models pull {missing[0]}",
            )

    def pull(self, name: str) -> Iterator[PullProgress]:
        """Progress as the server pulls `name` from its registry. A failure the server reports
        is the registry's (unreachable, no such model there): said so, with the offline way."""
        try:
            with _translated_errors(self.host, name):
                for update in self._client.pull(name, stream=True):
                    yield PullProgress(
                        status=update.status or "",
                        completed=update.completed or 0,
                        total=update.total or 0,
                        digest=update.digest or "",
                    )
        except OllamaUnreachableError:
            raise  # the server itself, not the registry behind it
        except OllamaUnavailableError as error:
            raise OllamaUnavailableError(
                f"could not pull {name}: {error.message}",
                hint="the Ollama registry may be unreachable; register a local GGUF with "
                "`ollama create NAME -f Modelfile` instead",
            ) from None


def has_model(available: Sequence[str], wanted: str) -> bool:
    """Whether the server's `available` names hold `wanted`; a bare name means its `:latest`.

    >>> has_model(["qwen2.5:3b", "phi:latest"], "qwen2.5:3b"), has_model(["phi:latest"], "phi")
    (True, True)
    """
    return any(
        name == wanted or (":" not in wanted and name == f"{wanted}:latest") for name in available
    )
