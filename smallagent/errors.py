"""Errors a user can act on. Each carries a one-line hint that the CLI prints after the message."""

from __future__ import annotations


class SmallagentError(Exception):
    """A failure with a known cause; the CLI prints it in one line plus its hint, no traceback."""

    exit_code: int = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(SmallagentError):
    """A bad setting: config file, environment variable or flag."""

    exit_code = 2


class OllamaUnavailableError(SmallagentError):
    """The Ollama server could not be reached or answered with a server error."""


class ModelNotFoundError(SmallagentError):
    """The server is up but does not have the model asked for."""


class IndexStoreError(SmallagentError):
    """An index on disk is missing, locked by another writer, built differently, or damaged."""
