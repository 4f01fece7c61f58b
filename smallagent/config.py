"""Settings, and the options of one question.

`Settings` are layered: defaults < user config file < project `smallagent.toml` < environment <
flags; every value remembers which layer set it, so `smallagent doctor` can say where it came from.

The index directory, when no layer names it, is the nearest `indexes/` folder holding smallagent
indexes in the current folder or one above it (a checkout's own), else the user data directory's,
so that a command finds the same indexes from any folder.

`AskOptions` are how one question runs (steps, shell, sampling, limits). `ask` and `chat` fill them
from flags and a task file from its settings; either way they are checked here, once, when made.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import platformdirs

from smallagent.embeddings import PRECISIONS, Precision
from smallagent.energy import EnergySettings, default_energy_settings
from smallagent.errors import ConfigError, OptionError
from smallagent.types import Purpose

PROJECT_CONFIG_NAME = "smallagent.toml"
DEFAULT_OLLAMA_PORT = 11434

# Environment variables per setting, strongest first. OLLAMA_HOST is honoured because every Ollama
# user already has it set the way their server listens.
ENVIRONMENT_NAMES: dict[str, tuple[str, ...]] = {
    "ollama_host": ("SMALLAGENT_OLLAMA_HOST", "OLLAMA_HOST"),
    "model": ("SMALLAGENT_MODEL",),
    "index": ("SMALLAGENT_INDEX",),
    "index_dir": ("SMALLAGENT_INDEX_DIR",),
    "embedding_model": ("SMALLAGENT_EMBEDDING_MODEL",),
    "embedding_precision": ("SMALLAGENT_EMBEDDING_PRECISION",),
    "request_timeout_s": ("SMALLAGENT_REQUEST_TIMEOUT",),
    "num_predict_plan": ("SMALLAGENT_NUM_PREDICT_PLAN",),
    "num_predict_tool": ("SMALLAGENT_NUM_PREDICT_TOOL",),
    "num_predict_answer": ("SMALLAGENT_NUM_PREDICT_ANSWER",),
    "retrieve_first": ("SMALLAGENT_RETRIEVE_FIRST",),
    "constrained_replies": ("SMALLAGENT_CONSTRAINED_REPLIES",),
    "passage_chars": ("SMALLAGENT_PASSAGE_CHARS",),
    "not_found_below": ("SMALLAGENT_NOT_FOUND_BELOW",),
    "escalate": ("SMALLAGENT_ESCALATE",),
    "escalate_below": ("SMALLAGENT_ESCALATE_BELOW",),
    "escalate_within": ("SMALLAGENT_ESCALATE_WITHIN",),
    "history": ("SMALLAGENT_HISTORY",),
    "decompose": ("SMALLAGENT_DECOMPOSE",),
}
SWITCH_SETTINGS = ("retrieve_first", "constrained_replies", "history")
_SWITCH_WORDS = {"true": True, "1": True, "yes": True, "on": True}
_SWITCH_WORDS |= {"false": False, "0": False, "no": False, "off": False}
CAP_SETTINGS = ("num_predict_plan", "num_predict_tool", "num_predict_answer")
SMALLEST_CAP = 16  # fewer tokens cannot hold a tool call
# Plan a task into sub-goals (smallagent/planner.py): never; when a cheap rule calls it
# multi-step; or every task.
DecomposeMode = Literal["off", "auto", "always"]
DECOMPOSE_MODES: tuple[DecomposeMode, ...] = ("off", "auto", "always")


@dataclass(frozen=True)
class Settings:
    ollama_host: str = f"http://127.0.0.1:{DEFAULT_OLLAMA_PORT}"
    model: str = "qwen2.5:3b"
    index: str = "default"
    index_dir: Path = Path("indexes")
    embedding_model: str = "all-MiniLM-L6-v2"
    # int8: 1.7x faster ingest than fp32, recall@5 0.992 against 1.000 on 238 queries
    # (docs/benchmarks.md); --precision fp32 or this setting gives full precision.
    embedding_precision: Precision = "int8"
    request_timeout_s: float = 600.0
    # The most tokens Ollama may generate for each kind of request (its `num_predict`): the longest
    # reply of each kind seen with Qwen2.5-Coder 1.5B on the example questions, with headroom
    # (docs/benchmarks.md, "Generation caps"). A reply cut at a cap goes back to the model as a
    # mistake; without caps, a small model caught in a loop generated for ten minutes.
    num_predict_plan: int = 640  # longest seen 361
    num_predict_tool: int = 512  # longest seen 361 (a plan written again), 352 for an answer
    num_predict_answer: int = 512  # the answer alone: the longest answer seen was 352
    # How the agent works (issue 10; docs/benchmarks.md, "Question benchmark"): search with the
    # question before the model's first turn; force each reply into one JSON tool call; show
    # each passage as its best-matching sentences, at most this many characters.
    retrieve_first: bool = True
    constrained_replies: bool = True
    passage_chars: int = 300
    # Say "not found" without asking the model when the best passage holds less than this share
    # of the question's (rarity-weighted) topic words; 0 turns it off. 0.4 sits in the gap on the
    # dev split between answerable questions (lowest 0.44) and unanswerable ones (14 of 15 below
    # 0.38): docs/benchmarks.md, "Not found, by coverage".
    not_found_below: float = 0.4
    # Larger models to try, in order, when a signal says the answer failed (escalation.py).
    escalate: tuple[str, ...] = ()
    # Both act only on a model a larger one follows (`escalate`). Chosen on the question
    # benchmark's dev split with Qwen2.5-Coder 0.5B -> 1.5B (docs/benchmarks.md, "Escalation"):
    # one request reading the retrieve-first passages, and up when the answer's tokens averaged
    # under 0.7, was 97% of always-1.5B's success at 45% of its energy (modeled from two runs).
    # Escalate an answer the model was this unsure of: the geometric mean probability of the
    # answer's tokens (escalation.low_confidence); 0 turns the signal off.
    escalate_below: float = 0.7
    # The model gets at most this many requests, the last of them for its answer alone (tools
    # withheld); the signals then judge that answer. 0: the question's own max_steps, and no
    # request kept for the answer.
    escalate_within: int = 1
    # Record every ask, chat turn and run task in the history log (`smallagent logs`); `--no-log`
    # turns it off for one command.
    history: bool = True
    # Plan multi-step tasks into sub-goals, each run and checked on its own (issue 15). `auto`
    # plans only what `planner.looks_multi_step` calls multi-step, so every other question runs
    # as with `off`; on the multi-step benchmark's test split it was right 22/32 against 12/32
    # for fewer prompt tokens (docs/benchmarks.md, "Multi-step tasks", sixth round).
    decompose: DecomposeMode = "auto"
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def source_of(self, name: str) -> str:
        return self.sources.get(name, "default")

    def with_source(self, name: str, source: str) -> Settings:
        return replace(self, sources={**self.sources, name: source})

    def num_predict_caps(self) -> dict[Purpose, int]:
        return {
            "plan": self.num_predict_plan,
            "tool": self.num_predict_tool,
            "answer": self.num_predict_answer,
        }


SETTING_NAMES = tuple(f.name for f in fields(Settings) if f.name != "sources")
INDEX_DATABASE = "meta.sqlite"  # index.DATABASE: the file that makes a folder an index


def check_index_name(name: str, origin: str = "--index") -> str:
    """An index name is one folder name: no path, nothing hidden.

    >>> check_index_name("notes")
    'notes'
    """
    if not name or name.startswith(".") or "/" in name or "\\" in name:
        raise ConfigError(
            f"{origin}: bad index name {name!r}", hint="use letters, digits, '-', '_' (no slashes)"
        )
    return name


def user_data_dir() -> Path:
    """Where the history log and, failing a nearer `indexes/`, the indexes live (XDG_DATA_HOME)."""
    return Path(platformdirs.user_data_dir("smallagent"))


def history_path() -> Path:
    """The history log (`smallagent logs`)."""
    return user_data_dir() / "history.sqlite"


def holds_indexes(folder: Path) -> bool:
    try:
        return any((child / INDEX_DATABASE).is_file() for child in folder.iterdir())
    except OSError:
        return False


def nearest_index_dir(cwd: Path) -> Path | None:
    """The `indexes/` folder holding smallagent indexes in `cwd` or the nearest folder above it."""
    for folder in (cwd, *cwd.parents):
        candidate = folder / "indexes"
        if candidate.is_dir() and holds_indexes(candidate):
            return candidate
    return None


def normalize_host(value: str) -> str:
    """Turn any spelling of OLLAMA_HOST into a URL the client can use.

    >>> normalize_host("127.0.0.1:8080")
    'http://127.0.0.1:8080'
    >>> normalize_host("0.0.0.0")
    'http://127.0.0.1:11434'
    """
    text = value.strip()
    if not text:
        raise ConfigError("the Ollama host is empty", hint="set it like 127.0.0.1:11434")
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"cannot read Ollama host {value!r}", hint="use host:port, e.g. 127.0.0.1:11434"
        )
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"bad port in Ollama host {value!r}", hint="use host:port") from None
    if port is None:
        port = 443 if parts.scheme == "https" else DEFAULT_OLLAMA_PORT
    host = parts.hostname
    # A server bound to all interfaces is reached on loopback.
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}:{port}{parts.path.rstrip('/')}"


def _whole_number(raw: Any) -> int | None:
    """An integer from a file, the environment or a flag ("512", 512), or None (1.5, "lots", true).

    >>> _whole_number(" 512 "), _whole_number(1.5), _whole_number(True)
    (512, None, None)
    """
    if isinstance(raw, bool):
        return None
    try:
        return int(str(raw).strip())
    except ValueError:
        return None


def _coerce(name: str, raw: Any, origin: str, base_dir: Path) -> Any:
    """Check and convert one raw value; paths from a file are relative to that file."""
    if name in CAP_SETTINGS:
        tokens = _whole_number(raw)
        if tokens is None or tokens < SMALLEST_CAP:
            raise ConfigError(
                f"{origin}: {name} must be a whole number of tokens, at least {SMALLEST_CAP}; "
                f"got {raw!r}"
            )
        return tokens
    if name in SWITCH_SETTINGS:
        switch = raw if isinstance(raw, bool) else _SWITCH_WORDS.get(str(raw).strip().lower())
        if switch is None:
            raise ConfigError(f"{origin}: {name} must be true or false, got {raw!r}")
        return switch
    if name == "escalate_within":
        requests = _whole_number(raw)
        if requests is None or requests < 0:
            raise ConfigError(
                f"{origin}: escalate_within must be a whole number of requests (0: no limit); "
                f"got {raw!r}"
            )
        return requests
    if name == "passage_chars":
        chars = _whole_number(raw)
        if chars is None or not 80 <= chars <= 4000:
            raise ConfigError(
                f"{origin}: passage_chars must be a whole number, 80 to 4000; got {raw!r}"
            )
        return chars
    if name in ("not_found_below", "escalate_below"):
        try:
            share = float(raw)
        except (TypeError, ValueError):
            share = -1.0
        if isinstance(raw, bool) or not 0 <= share < 1:
            raise ConfigError(
                f"{origin}: {name} must be a share from 0 (off) to below 1; got {raw!r}"
            )
        return share
    if name == "escalate":
        try:
            return escalation_chain(raw)
        except OptionError as error:
            raise ConfigError(f"{origin}: escalate {error.requirement}") from None
    if name == "decompose":
        if str(raw).strip().lower() not in DECOMPOSE_MODES:
            raise ConfigError(
                f"{origin}: decompose must be {', '.join(DECOMPOSE_MODES)}; got {raw!r}"
            )
        return str(raw).strip().lower()
    if name == "request_timeout_s":
        try:
            seconds = float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{origin}: {name} must be a number, got {raw!r}") from None
        if seconds <= 0:
            raise ConfigError(f"{origin}: {name} must be positive, got {raw!r}")
        return seconds
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(f"{origin}: {name} must be a non-empty string, got {raw!r}")
    if name == "ollama_host":
        return normalize_host(raw)
    if name == "embedding_precision" and raw.strip() not in PRECISIONS:
        raise ConfigError(
            f"{origin}: embedding_precision must be {' or '.join(PRECISIONS)}, got {raw!r}"
        )
    if name == "index":
        return check_index_name(raw.strip(), origin)
    if name == "index_dir":
        path = Path(raw).expanduser()
        return path if path.is_absolute() else base_dir / path
    return raw.strip()


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    unknown = sorted(set(data) - set(SETTING_NAMES))
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown setting(s) {', '.join(unknown)}",
            hint=f"known settings: {', '.join(SETTING_NAMES)}",
        )
    return data


def config_files(cwd: Path, user_config_dir: Path, explicit: Path | None) -> list[Path]:
    """The files that apply, weakest first. An explicit --config replaces the search."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file {explicit} does not exist")
        return [explicit]
    candidates = [user_config_dir / "config.toml", cwd / PROJECT_CONFIG_NAME]
    return [path for path in candidates if path.is_file()]


def default_user_config_dir() -> Path:
    return Path(platformdirs.user_config_dir("smallagent"))


def load_settings(
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user_config_dir: Path | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Resolve every setting through the layers; flags that are None were not given."""
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    user_dir = default_user_config_dir() if user_config_dir is None else user_config_dir
    if config_file is None and environ.get("SMALLAGENT_CONFIG"):
        config_file = Path(environ["SMALLAGENT_CONFIG"]).expanduser()

    settings = Settings()
    sources: dict[str, str] = {}
    values: dict[str, Any] = {}
    for path in config_files(cwd, user_dir, config_file):
        for name, raw in _read_config_file(path).items():
            values[name] = _coerce(name, raw, str(path), path.parent)
            sources[name] = str(path)
    for name, env_names in ENVIRONMENT_NAMES.items():
        for env_name in env_names:
            if environ.get(env_name):
                values[name] = _coerce(name, environ[env_name], f"${env_name}", cwd)
                sources[name] = f"${env_name}"
                break
    for name, raw in (flags or {}).items():
        if raw is None:
            continue
        if name not in SETTING_NAMES:
            raise ValueError(f"unknown setting {name!r}")  # a bug in the caller, not user input
        flag = "--" + name.replace("_", "-")
        values[name] = _coerce(name, str(raw) if isinstance(raw, Path) else raw, flag, cwd)
        sources[name] = flag
    if "index_dir" not in values:
        found = nearest_index_dir(cwd)
        if found is not None:
            values["index_dir"], sources["index_dir"] = found, "nearest indexes/ with indexes"
        else:
            values["index_dir"] = user_data_dir() / "indexes"
            sources["index_dir"] = "default (user data directory)"
    return replace(settings, **values, sources=sources)


def settings_report(
    settings: Settings,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> dict[str, Any]:
    """What `smallagent config show` prints: each setting, its value and where it came from, and
    the files and folders smallagent reads and writes."""
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    if config_file is None and environ.get("SMALLAGENT_CONFIG"):
        config_file = Path(environ["SMALLAGENT_CONFIG"]).expanduser()
    user_file = default_user_config_dir() / "config.toml"
    candidates = [config_file] if config_file else [user_file, cwd / PROJECT_CONFIG_NAME]
    return {
        "settings": [
            {
                "name": name,
                "value": str(value) if isinstance(value, Path) else value,
                "source": settings.source_of(name),
            }
            for name in SETTING_NAMES
            for value in [getattr(settings, name)]
        ],
        "config_files": [
            {"path": str(path), "exists": path.is_file()} for path in candidates if path
        ],
        "index_dir": str(settings.index_dir),
        "cache_dir": str(platformdirs.user_cache_dir("smallagent")),
        "data_dir": str(user_data_dir()),
        "history_log": str(history_path()),
    }


# --------------------------------------------------------------- the options of one question

# off: no shell tool; read-only: the allowlist, in the kernel sandbox, anything else asks first;
# allow: anything runs without asking (`--allow-shell`, a task's `shell: allow`).
ShellMode = Literal["read-only", "off", "allow"]
SHELL_MODES: tuple[ShellMode, ...] = ("read-only", "off", "allow")
TOOL_NAMES = ("search", "read_file", "shell")
# Whole-number options and their least value.
LEAST = {"max_steps": 1, "seed": 0, "num_ctx": 1024}


def escalation_chain(raw: Any) -> tuple[str, ...]:
    """The models to escalate to, from "a,b", ["a", "b"] or a tuple; checked here, once.

    >>> escalation_chain("qwen2.5-coder:1.5b, qwen2.5:7b")
    ('qwen2.5-coder:1.5b', 'qwen2.5:7b')
    """
    if isinstance(raw, str) and not raw.strip():
        return ()
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
        raise OptionError("escalate", "must be model names, e.g. qwen2.5-coder:1.5b,qwen2.5:7b")
    names = tuple(item.strip() for item in items)
    if any(not name or any(ch.isspace() for ch in name) for name in names):
        raise OptionError("escalate", f"has an empty or malformed model name: {raw!r}")
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class AskOptions:
    """How one question runs. Made from flags (`ask`, `chat`) or a task file; checked when made,
    so a value a task file refuses is refused on the command line too."""

    max_steps: int = 8
    shell: ShellMode = "read-only"
    workdir: Path = field(default_factory=Path.cwd)
    num_ctx: int = 8192
    temperature: float = 0.0
    seed: int = 0
    tools: tuple[str, ...] = TOOL_NAMES  # a task may offer fewer
    keep_alive: str = "10m"
    max_wh: float | None = None
    max_seconds: float | None = None  # for the whole question, every model call and tool in it
    energy: EnergySettings = field(default_factory=default_energy_settings)
    search_chars: int = 500
    escalate: tuple[str, ...] = ()  # larger models, tried in order when a signal fires

    def __post_init__(self) -> None:
        for name, least in LEAST.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise OptionError(name, f"must be a whole number >= {least}")
        if not _is_number(self.temperature) or not 0 <= self.temperature <= 2:
            raise OptionError("temperature", "must be a number from 0 to 2")
        if self.shell not in SHELL_MODES:
            raise OptionError(
                "shell", f"must be one of {', '.join(SHELL_MODES)}, not {self.shell!r}"
            )
        unknown = [tool for tool in self.tools if tool not in TOOL_NAMES]
        if unknown:
            raise OptionError(
                "tools", f"has an unknown tool {unknown[0]!r}; choose from {', '.join(TOOL_NAMES)}"
            )
        if not self.workdir.is_dir():
            raise OptionError("workdir", f"{self.workdir} is not a directory")
        for name in ("max_wh", "max_seconds"):
            value = getattr(self, name)
            if value is not None and (not _is_number(value) or value <= 0):
                raise OptionError(name, "must be positive")
        # One spelling each, whatever the source wrote: 1 and 1.0 are the same temperature.
        object.__setattr__(self, "temperature", float(self.temperature))
        object.__setattr__(self, "tools", tuple(dict.fromkeys(self.tools)))
        object.__setattr__(self, "escalate", escalation_chain(self.escalate))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
