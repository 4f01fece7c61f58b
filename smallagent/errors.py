"""Errors a user can act on. Each carries a one-line hint that the CLI prints after the message."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smallagent.types import Usage


class SmallagentError(Exception):
    """A failure with a known cause; the CLI prints it in one line plus its hint, no traceback."""

    exit_code: int = 1
    spent: Usage | None = None  # what the model request it ended had used, where there was one

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(SmallagentError):
    """A bad setting: config file, environment variable or flag."""

    exit_code = 2


class BadInput(SmallagentError):
    """What the user typed cannot be used (an empty question, `-k 0`, a bad index name): exit 2,
    like a usage error, apart from a failure while working (exit 1)."""

    exit_code = 2


class OptionError(BadInput):
    """An option with a value it cannot take. It names the option, not the place it was written
    (a flag, a task file): whoever read the value says where, e.g. `--max-steps` or `max_steps`."""

    def __init__(self, name: str, requirement: str) -> None:
        super().__init__(f"{name} {requirement}")
        self.name = name
        self.requirement = requirement


class OllamaUnavailableError(SmallagentError):
    """The Ollama server could not be reached or answered with a server error."""


class OllamaUnreachableError(OllamaUnavailableError):
    """Not even the server answered: nothing listens there, or it took the connection and then
    said nothing in time. (Its other failures are answers: an error status, a reply cut off.)"""


class CannotProceed(SmallagentError):
    """A scripted run stopped as a whole, before its tasks or part way through them (a bad task
    file, the server down, a model missing): exit 2, apart from a task that failed (exit 1)."""

    exit_code = 2


class GenerationTimeoutError(SmallagentError):
    """The server answered, and the model was still generating when the request's time ran out."""

    exit_code = 124  # as timeout(1): the work was cut short, not refused


class RequestInterrupted(KeyboardInterrupt):
    """Ctrl-C during a model request: still an interrupt, carrying what the request had spent."""

    def __init__(self, spent: Usage) -> None:
        super().__init__()
        self.spent = spent


class ModelNotFoundError(SmallagentError):
    """The server is up but does not have the model asked for."""


class IndexStoreError(SmallagentError):
    """An index on disk is missing, locked by another writer, built differently, or damaged."""


class IndexDamagedError(IndexStoreError):
    """The index's files fail a check: unreadable database, wrong checksum, counts that disagree."""
