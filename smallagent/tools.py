"""Tools the agent can call: plain typed functions whose JSON schema is derived, not written.

A tool's schema comes from its signature and the `Args:` section of its docstring; a missing type
hint or argument description fails when the tool is defined, not when a model first calls it.
Arguments are coerced to the hinted types before the call (small models send "3" for 3) and
unknown keys are dropped (they invent keys such as "required").
"""

from __future__ import annotations

import inspect
import os
import re
import stat
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smallagent.paths import display_path, printable_path
from smallagent.retrieval import SourceRegistry, quoted_phrases
from smallagent.shell import ShellPolicy, before_pipe
from smallagent.snippets import passage_view
from smallagent.types import ToolSpec


class ToolArgumentError(Exception):
    """The model called a tool with arguments it cannot take; the message goes back to it."""


class ToolRefused(Exception):
    """The tool would not do what was asked (a command outside the shell policy).

    Not a result: the loop shows it as a mistake, without the "answer now if you can" follow-up
    that a result gets, because after a refusal a 1.5B model answered with an invented count.
    """


_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _docstring_parts(function: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    doc = inspect.getdoc(function) or ""
    summary, _, rest = doc.partition("\nArgs:\n")
    descriptions: dict[str, str] = {}
    for line in rest.splitlines():
        match = re.match(r"\s*(\w+):\s*(.+)", line)
        if match:
            descriptions[match.group(1)] = match.group(2).strip()
    return " ".join(summary.split()), descriptions


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    function: Callable[..., str]
    parameters: Mapping[str, Any]
    annotations: Mapping[str, type] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.parameters)

    def prepare(self, arguments: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Coerced keyword arguments, and the unknown keys that were dropped."""
        unknown = sorted(key for key in arguments if key not in self.annotations)
        missing = [name for name in self.required if name not in arguments]
        if missing:
            takes = ", ".join(f"{n} ({_JSON_TYPES[t]})" for n, t in self.annotations.items())
            raise ToolArgumentError(f"{self.name} needs {', '.join(missing)}; it takes {takes}")
        coerced = {
            name: coerce(arguments[name], self.annotations[name], name)
            for name in self.annotations
            if name in arguments
        }
        return coerced, unknown

    def __call__(self, arguments: Mapping[str, Any]) -> str:
        coerced, _ = self.prepare(arguments)
        return self.function(**coerced)


def coerce(value: Any, target: type, name: str) -> Any:
    """Convert what a small model sends into the hinted type, or say what was wrong.

    >>> coerce("3", int, "k"), coerce("yes", bool, "all"), coerce(2, str, "q")
    (3, True, '2')
    """
    if isinstance(value, dict) and target is not dict:
        # e.g. {"type": "string", "description": "Paris"} (the schema echoed back with a value in
        # it) or {"command": "ls"} (the argument wrapped in itself)
        for key in (name, "value", "description", "default"):
            if key in value and not isinstance(value[key], dict):
                return coerce(value[key], target, name)
        raise ToolArgumentError(f"argument {name} should be a {_JSON_TYPES[target]}, not an object")
    try:
        if target is bool:
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered in ("true", "yes", "1"):
                    return True
                if lowered in ("false", "no", "0"):
                    return False
                raise ValueError(value)
            return bool(value)
        if target is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(float(value)) if isinstance(value, str) else int(value)
        if target is float:
            return float(value)
        if target is str:
            if isinstance(value, list | tuple):
                return " ".join(str(item) for item in value)
            return str(value)
    except (TypeError, ValueError):
        raise ToolArgumentError(
            f"argument {name} should be a {_JSON_TYPES[target]}, got {value!r}"
        ) from None
    return value


def make_tool(function: Callable[..., str], name: str | None = None) -> Tool:
    """Derive a Tool from a typed function with an `Args:` docstring; fail loudly if incomplete."""
    tool_name = name or function.__name__
    summary, descriptions = _docstring_parts(function)
    if not summary:
        raise TypeError(f"tool {tool_name}: the function needs a docstring")
    hints = typing.get_type_hints(function)
    properties: dict[str, Any] = {}
    annotations: dict[str, type] = {}
    required: list[str] = []
    defaults: dict[str, Any] = {}
    for parameter in inspect.signature(function).parameters.values():
        hint = hints.get(parameter.name)
        if hint not in _JSON_TYPES:
            if isinstance(hint, types.UnionType):
                raise TypeError(f"tool {tool_name}: {parameter.name} needs a single plain type")
            raise TypeError(f"tool {tool_name}: {parameter.name} needs a type hint (str/int/...)")
        if parameter.name not in descriptions:
            raise TypeError(f"tool {tool_name}: describe {parameter.name} under Args:")
        annotations[parameter.name] = hint
        schema: dict[str, Any] = {
            "type": _JSON_TYPES[hint],
            "description": descriptions[parameter.name],
        }
        if parameter.default is inspect.Parameter.empty:
            required.append(parameter.name)
        else:
            defaults[parameter.name] = parameter.default
            schema["default"] = parameter.default
        properties[parameter.name] = schema
    return Tool(
        name=tool_name,
        description=summary,
        function=function,
        parameters={"type": "object", "properties": properties, "required": required},
        annotations=annotations,
        required=tuple(required),
        defaults=defaults,
    )


# --- the agent's tools ----------------------------------------------------------------------


def make_search_tool(retriever: Any, sources: SourceRegistry, root: Path, chars: int) -> Tool:
    root = root.resolve()  # indexed paths are absolute; shown relative to the working directory

    def search(query: str, k: int = 4) -> str:
        """Search the ingested documents; returns numbered passages to cite as [n].

        Args:
            query: words or a question to look for; exact names and codes work best, and
                words in quotes are matched as written, first
            k: how many passages to return (1 to 8; at least 3 come back)
        """
        # At least 3: the 1.5B model asked for k=1 and its answer was ranked third.
        mentioned = path_mentions(query, root)
        # A quoted folder name is where to look, not words to find in the text: asked which
        # file of `reviews` is smallest, the search showed reviews that say "reviews".
        hits = retriever.search(query, k=max(3, min(k, 8)), not_text=list(mentioned))
        absent = retriever.absent_words(query)
        note = f"No document contains: {', '.join(absent)}." if absent else ""
        paths = list(dict.fromkeys(mentioned.values()))
        facts = [path_facts(path, root) for path in paths]
        # Exact figures first and labelled as such: shown unlabelled above passages that talk of
        # "a large file", the 1.5B model took the passage's word over the file system's.
        lines = [f"From the file system (exact): {fact}" for fact in facts]
        folders = [path for path in paths if path.is_dir()]
        for phrase in quoted_phrases(query):
            if phrase not in mentioned:
                lines.append(files_holding(retriever.reader, phrase, root, folders))
        if not hits:
            return "\n".join([*lines, note or "No passages found. Try other words."])
        for hit in hits:
            path = printable_path(hit.path)  # a name that is not UTF-8 would break the request
            number = sources.number(path, hit.page, hit.heading)
            sources.remember(number, hit.text)
            where = display_path(path, root) + (f", page {hit.page}" if hit.page else "")
            heading = f" ({hit.heading})" if hit.heading else ""
            lines.append(f"[{number}] {where}{heading}: {passage_view(hit.text, query, chars)}")
        return "\n".join([*lines, note] if note else lines)

    return make_tool(search)


_QUOTED = re.compile(r"`([^`]+)`|'([^']+)'|\"([^\"]+)\"")
_PATHLIKE = re.compile(r"[\w.-]*[\w-]/[\w./-]*|[\w-]+\.[A-Za-z0-9]{1,5}\b")
MAX_LISTED = 10_000  # entries a folder's facts look at: a huge tree costs bounded time
MAX_COUNTED_BYTES = 64 << 20  # a file's lines are counted up to this size


def named_paths(query: str, root: Path) -> list[Path]:
    """Files and folders inside `root` that the query names: quoted, or written like a path.

    A question about a file itself (its size, its lines, a folder's files) is answered by the
    file system, not by passages; the 1.5B model, shown passages, counted the passages instead.
    """
    return list(dict.fromkeys(path_mentions(query, root).values()))


def path_mentions(query: str, root: Path) -> dict[str, Path]:
    """What the query writes for each file or folder inside `root` it names, and that path."""
    candidates = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(query)]
    candidates += _PATHLIKE.findall(query)
    found: dict[str, Path] = {}
    for written in dict.fromkeys(candidate.strip() for candidate in candidates):
        candidate = written.rstrip("/")
        try:
            path = (root / candidate).resolve() if candidate else root
            exists = path != root and path.is_relative_to(root) and path.exists()
        except OSError:
            # A quoted sentence is not a path: too long a name (ENAMETOOLONG) made the whole
            # search fail when the 1.5B model quoted a passage back in its query.
            continue
        if exists:
            found[written] = path
    return found


MAX_FILES_NAMED = 10  # files a "holding" fact names; the count is always whole
MAX_PAGES_NAMED = 12  # pages it names for one paged document (a PDF)


def files_holding(reader: Any, phrase: str, root: Path, folders: Sequence[Path]) -> str:
    """One line naming the indexed files that hold a quoted phrase word for word (as search
    matches words: case and accents ignored), within the folders the query names if any, and
    for a paged document (a PDF) the pages that hold it.

    Shown passages that hold a quoted word, the 1.5B model counted the passages (three) when
    asked how many files of a folder hold it (two); asked on which pages of a manual a word is,
    it named the pages of the four passages it was shown.
    """
    places = {Path(path).resolve(): pages for path, pages in reader.places_holding(phrase).items()}
    within = sorted(
        path for path in places if not folders or any(path.is_relative_to(f) for f in folders)
    )
    where = " and ".join(f"{display_path(str(f), root)}/" for f in folders)
    count = f"{len(within):,} file{'s' if len(within) != 1 else ''}"
    if where:
        count += f" in {where}"
    shown = []
    for path in within[:MAX_FILES_NAMED]:
        pages = places[path]
        listed = ", ".join(str(page) for page in pages[:MAX_PAGES_NAMED])
        more = f" and {len(pages) - MAX_PAGES_NAMED} more" if len(pages) > MAX_PAGES_NAMED else ""
        on = f" (page{'s' if len(pages) != 1 else ''} {listed}{more})" if pages else ""
        shown.append(display_path(str(path), root) + on)
    more = f" and {len(within) - len(shown):,} more" if len(within) > len(shown) else ""
    listed = f": {', '.join(shown)}{more}" if shown else ""
    return f'From the index (exact): "{phrase}" is in {count}{listed}.'


def path_facts(path: Path, root: Path) -> str:
    """One line of facts about a file or folder, read from the file system without following
    links: a file's bytes and lines (as `wc -c`/`wc -l` count them); a folder's files, counted
    directly in it and in all its sub-folders, and its largest and smallest file."""
    shown = str(path.relative_to(root))
    if path.is_file():
        size = path.stat().st_size
        lines = line_count(path)
        if lines is None:
            limit = f"{MAX_COUNTED_BYTES:,}"
            return f"{shown}: a file of {size:,} bytes (lines not counted: over {limit} bytes)."
        return f"{shown}: a file of {size:,} bytes and {lines:,} lines."
    direct: list[tuple[int, str]] = []
    total = 0
    for number, entry in enumerate(path.rglob("*")):
        if number >= MAX_LISTED:
            return f"{shown}/: a folder of more than {MAX_LISTED:,} entries (not counted)."
        if entry.is_file() and not entry.is_symlink():
            total += 1
            if entry.parent == path:
                direct.append((entry.stat().st_size, entry.name))
    facts = f"{shown}/: a folder of {len(direct):,} files ({total:,} counting sub-folders)"
    if direct:
        direct.sort()
        (small, small_name), (large, large_name) = direct[0], direct[-1]
        # Named with their folder: "largest post-0179.txt" above a passage from post-1748.txt,
        # the 1.5B model gave the passage's name with the fact's size.
        facts += f"; the largest is {shown}/{large_name} ({large:,} bytes)"
        facts += f", the smallest {shown}/{small_name} ({small:,} bytes)"
    return facts + "."


def line_count(path: Path) -> int | None:
    """A file's lines as `wc -l` counts them; None over MAX_COUNTED_BYTES (a search must not
    read gigabytes to count lines)."""
    if path.stat().st_size > MAX_COUNTED_BYTES:
        return None
    lines = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            lines += block.count(b"\n")
    return lines


def make_read_file_tool(
    roots: list[Path], allowed_files: set[str], max_lines: int, max_bytes: int = 16_000
) -> Tool:
    # Resolved once, when the run starts: a symlink swapped in later for an indexed document
    # resolves elsewhere and no longer matches.
    resolved_roots = [root.resolve() for root in roots]
    indexed = {Path(path).resolve() for path in allowed_files}

    def read_file(path: str, start_line: int = 1, end_line: int = 80) -> str:
        """Read lines of a text file inside the working directory or among the indexed documents.

        Args:
            path: file path, relative to the working directory or as shown by search
            start_line: first line to read, counting from 1
            end_line: last line to read
        """
        candidates = [Path(path)] if Path(path).is_absolute() else [r / path for r in roots]
        for candidate in candidates:
            resolved = candidate.resolve()
            inside = any(resolved.is_relative_to(root) for root in resolved_roots)
            if not (inside or resolved in indexed):
                continue
            first = max(1, start_line)
            last = min(max(first, end_line), first + max_lines - 1)
            return _read_lines(resolved, path, first, last, max_bytes)
        return f"{path} is outside the working directory and the indexed documents; not read."

    return make_tool(read_file)


def _read_lines(resolved: Path, shown: str, first: int, last: int, max_bytes: int) -> str:
    """Lines first..last of a regular file, at most `max_bytes` of them read and returned.

    Opened without following a symlink (one swapped in after `resolve` is refused) and without
    blocking (a FIFO is refused, not waited on). Lines before `first` are skipped in bounded
    reads, so a 20 MB line costs 64 kB of memory, not 20 MB.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        descriptor = os.open(resolved, flags)
    except OSError:
        return f"{shown} is not a file."
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        return f"{shown} is not a file."
    with os.fdopen(descriptor, "rb") as handle:
        number = 1
        while number < first:
            block = handle.readline(65536)
            if not block:
                return f"{shown} has fewer than {first} lines."
            number += block.endswith(b"\n")
        lines: list[str] = []
        budget = max_bytes
        for number in range(first, last + 1):
            data = handle.readline(budget + 1)
            if not data:
                break
            if len(data) > budget:
                text = data[:budget].decode("utf-8", errors="replace")
                lines.append(f"{number}: {text} [cut: read_file returns at most {max_bytes} bytes]")
                break
            budget -= len(data)
            lines.append(f"{number}: {data.decode('utf-8', errors='replace').rstrip()}")
    if not lines:
        return f"{shown} has fewer than {first} lines."
    return "\n".join(lines)


def make_shell_tool(policy: ShellPolicy) -> Tool:
    def shell(command: str) -> str:
        """Run one read-only command (ls, grep, find, wc, cat, head, ...) in the working directory.

        Args:
            command: the command line, without pipes or redirects
        """
        verdict = policy.decide(command)
        note = ""
        if not verdict.allowed:
            first = before_pipe(command)
            first_verdict = policy.decide(first) if first else verdict
            if not first_verdict.allowed:
                raise ToolRefused(first_verdict.reason)
            verdict = first_verdict
            note = f"Pipes do not run here, so only `{first}` ran. "
        result = policy.run(verdict.argv, confined=verdict.confined)
        status = "timed out" if result.exit_code is None else f"exit code {result.exit_code}"
        lines = len(result.output.splitlines())
        size = f"{lines} line{'s' * (lines != 1)} of output" if lines else "no output"
        return f"{note}{status}, {size}\n{result.output}".rstrip()

    return make_tool(shell)


def make_final_answer_tool() -> Tool:
    def final_answer(answer: str) -> str:
        """Give the final answer to the user, citing passages as [n].

        Args:
            answer: the complete answer
        """
        return answer

    return make_tool(final_answer)
