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


class OllamaUnavailableError(SmallagentError):
    """The Ollama server could not be reached or answered with a server error."""


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
