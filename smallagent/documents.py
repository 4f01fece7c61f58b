"""Walk folders and turn each readable file into a Document of sections (pages, headed parts).

A file that cannot be used is never an exception for the caller: it becomes a Skipped entry with a
reason the user can read, and the ingest goes on.
"""

from __future__ import annotations

import io
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IGNORE_FILES = (".gitignore", ".smallagentignore")
DEFAULT_MAX_FILE_BYTES = 20 * 1024 * 1024
SNIFF_BYTES = 8192

MARKDOWN = {".md", ".markdown", ".mdown"}
RESTRUCTURED = {".rst", ".rest"}
HTML = {".html", ".htm", ".xhtml"}
PDF = {".pdf"}
# Known binary formats are skipped without reading them; anything else is sniffed.
BINARY_SUFFIXES = {
    ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".webp", ".tiff", ".svgz", ".zip", ".gz",
    ".tgz", ".bz2", ".xz", ".7z", ".rar", ".tar", ".whl", ".jar", ".exe", ".dll", ".so", ".dylib",
    ".o", ".a", ".class", ".pyc", ".mp3", ".mp4", ".wav", ".ogg", ".flac", ".avi", ".mov", ".mkv",
    ".woff", ".woff2", ".ttf", ".otf", ".eot", ".sqlite", ".db", ".faiss", ".bin", ".gguf",
    ".safetensors", ".pt", ".npy", ".npz", ".parquet", ".docx", ".xlsx", ".pptx", ".odt",
}  # fmt: skip
CODE_SUFFIXES = {
    ".py", ".pyi", ".js", ".mjs", ".ts", ".tsx", ".jsx", ".go", ".rs", ".c", ".h", ".cc", ".cpp",
    ".hpp", ".java", ".kt", ".scala", ".rb", ".php", ".sh", ".bash", ".zsh", ".ps1", ".lua", ".pl",
    ".swift", ".cs", ".sql", ".r", ".m", ".hs", ".ml", ".ex", ".exs", ".clj", ".dart", ".zig",
}  # fmt: skip


@dataclass(frozen=True)
class FoundFile:
    path: Path  # absolute
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str


@dataclass
class ScanResult:
    files: list[FoundFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


@dataclass(frozen=True)
class Section:
    """A run of a document's text and where it came from; `start` is its offset in that text."""

    text: str
    heading: str = ""
    page: int | None = None
    start: int = 0


@dataclass(frozen=True)
class Document:
    path: Path
    kind: str
    sections: tuple[Section, ...]


class UnusableFile(Exception):
    """The file was read but holds nothing to index; the message is the reason shown to the user."""


# --- scanning ---------------------------------------------------------------------------------


def _load_ignore_spec(directory: Path) -> Any:
    import pathspec

    lines: list[str] = []
    for name in IGNORE_FILES:
        candidate = directory / name
        if candidate.is_file():
            try:
                lines += candidate.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
    return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None


def _glob_spec(patterns: Sequence[str]) -> Any:
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(patterns) if patterns else None


def _ignored(path: Path, is_dir: bool, ignores: list[tuple[Path, Any]]) -> bool:
    """Git's rule: the deepest ignore file with a matching pattern decides, `!` re-includes."""
    for base, spec in reversed(ignores):
        relative = path.relative_to(base).as_posix() + ("/" if is_dir else "")
        verdict = spec.check_file(relative).include
        if verdict is not None:
            return bool(verdict)
    return False


def scan(
    roots: Iterable[Path],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> ScanResult:
    """Find the files under `roots`, honouring ignore files, globs, the size cap and symlink loops.

    Hidden entries and VCS folders are skipped silently (they are never content); everything else
    that is left out is reported with its reason.
    """
    result = ScanResult()
    include_spec, exclude_spec = _glob_spec(include), _glob_spec(exclude)
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[Path] = set()

    def consider(path: Path, relative: str, info: os.stat_result) -> None:
        if include_spec is not None and not include_spec.match_file(relative):
            return
        if exclude_spec is not None and exclude_spec.match_file(relative):
            return
        if path in seen_files:
            return
        seen_files.add(path)
        if info.st_size > max_file_bytes:
            megabytes = info.st_size / 1e6
            cap = max_file_bytes / 1e6
            reason = f"too large ({megabytes:.1f} MB > {cap:.0f} MB cap)"
            result.skipped.append(Skipped(path, reason))
            return
        result.files.append(FoundFile(path, info.st_size, info.st_mtime_ns))

    def walk(directory: Path, root: Path, ignores: list[tuple[Path, Any]]) -> None:
        try:
            info = directory.stat()
        except OSError as error:
            result.skipped.append(Skipped(directory, f"cannot open folder: {error.strerror}"))
            return
        key = (info.st_dev, info.st_ino)
        if key in seen_dirs:
            return  # a symlink loop, or the same folder reached twice
        seen_dirs.add(key)
        spec = _load_ignore_spec(directory)
        if spec is not None:
            ignores = [*ignores, (directory, spec)]
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as error:
            result.skipped.append(Skipped(directory, f"cannot list folder: {error.strerror}"))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir()  # follows symlinks; loops are caught by seen_dirs
                entry_info = entry.stat() if not is_dir else None
            except OSError as error:
                result.skipped.append(Skipped(path, f"cannot stat: {error.strerror}"))
                continue
            if _ignored(path, is_dir, ignores):
                continue
            if is_dir:
                walk(path, root, ignores)
            elif entry_info is not None and stat.S_ISREG(entry_info.st_mode):
                consider(path, path.relative_to(root).as_posix(), entry_info)

    for root in roots:
        root = Path(os.path.abspath(root))
        if not root.exists():
            result.skipped.append(Skipped(root, "does not exist"))
        elif root.is_dir():
            walk(root, root, [])
        elif root.is_file():
            consider(root, root.name, root.stat())
        else:
            result.skipped.append(Skipped(root, "not a regular file or folder"))
    return result


# --- loading ----------------------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    """UTF-8 (BOM or not), else Windows-1252, the usual encoding of legacy text."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def looks_binary(head: bytes) -> bool:
    return b"\x00" in head


_ATX_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+<>:.])\1{2,}\s*$")


def _split_by_headings(text: str, headings: list[tuple[int, int, str]]) -> tuple[Section, ...]:
    """Cut text at (offset, level, title) points; each section's heading is its title path."""
    sections: list[Section] = []
    trail: list[tuple[int, str]] = []
    cuts = [*headings, (len(text), 0, "")]
    previous, previous_heading = 0, ""
    for offset, level, title in cuts:
        body = text[previous:offset]
        if body.strip():
            sections.append(Section(body, heading=previous_heading, start=previous))
        if not title:
            break
        trail = [(lvl, name) for lvl, name in trail if lvl < level] + [(level, title)]
        previous, previous_heading = offset, " > ".join(name for _, name in trail)
    return tuple(sections)


def markdown_sections(text: str) -> tuple[Section, ...]:
    headings: list[tuple[int, int, str]] = []
    offset, in_fence = 0, False
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (match := _ATX_HEADING.match(line.rstrip("\n"))):
            headings.append((offset, len(match.group(1)), match.group(2).strip()))
        offset += len(line)
    return _split_by_headings(text, headings)


def rst_sections(text: str) -> tuple[Section, ...]:
    """reST titles are a text line underlined by punctuation; levels follow first appearance."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    levels: dict[str, int] = {}
    headings: list[tuple[int, int, str]] = []
    for number in range(1, len(lines)):
        title, underline = lines[number - 1].strip(), lines[number].rstrip("\n")
        match = _RST_UNDERLINE.match(underline)
        long_enough = len(underline.strip()) >= len(title)
        if match and title and long_enough and not _RST_UNDERLINE.match(title):
            level = levels.setdefault(match.group(1), len(levels) + 1)
            headings.append((offsets[number - 1], level, title))
    return _split_by_headings(text, headings)


def html_to_markdownish(markup: str) -> str:
    """Visible text with headings kept as `#` lines; scripts, styles and page chrome dropped."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "svg", "head", "nav", "footer"]):
        tag.decompose()
    for level in range(1, 7):
        for heading in soup.find_all(f"h{level}"):
            title = " ".join(heading.get_text(" ").split())
            heading.replace_with(f"\n\n{'#' * level} {title}\n\n" if title else "")
    for block in soup.find_all(["p", "div", "li", "tr", "pre", "br", "section", "article"]):
        block.insert_after("\n")
    text = soup.get_text()
    text = re.sub(r"[ \t\r\f\v]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def pdf_sections(data: bytes) -> tuple[Section, ...]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnusableFile("encrypted PDF (needs a password)")
        sections: list[Section] = []
        offset = 0
        for number, page in enumerate(reader.pages, start=1):
            text = page.extract_text() or ""
            if text.strip():
                sections.append(Section(text, page=number, start=offset))
                offset += len(text) + 1
    except UnusableFile:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as error:
        raise UnusableFile(f"corrupt PDF ({type(error).__name__}: {error})") from None
    except Exception as error:  # pypdf raises many kinds on broken files; none may stop an ingest
        raise UnusableFile(f"unreadable PDF ({type(error).__name__}: {error})") from None
    if not sections:
        raise UnusableFile("PDF has no extractable text (scanned or image-only?)")
    return tuple(sections)


def code_sections(text: str) -> tuple[Section, ...]:
    """Top-level blocks: a cut before each unindented line that follows a blank line."""
    sections: list[Section] = []
    start, offset, previous_blank = 0, 0, False
    for line in text.splitlines(keepends=True):
        if previous_blank and line.strip() and not line[0].isspace() and offset > start:
            sections.append(Section(text[start:offset], start=start))
            start = offset
        previous_blank = not line.strip()
        offset += len(line)
    if text[start:].strip():
        sections.append(Section(text[start:], start=start))
    return tuple(section for section in sections if section.text.strip())


def kind_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in MARKDOWN:
        return "markdown"
    if suffix in RESTRUCTURED:
        return "rst"
    if suffix in HTML:
        return "html"
    if suffix in PDF:
        return "pdf"
    if suffix in CODE_SUFFIXES:
        return "code"
    if suffix in BINARY_SUFFIXES:
        return "binary"
    return "text"


def load_document(path: Path, data: bytes | None = None) -> Document:
    """Read one file (or its bytes, already read) into sections.

    Raises UnusableFile with the reason, or OSError when the file cannot be read.
    """
    kind = kind_of(path)
    if kind == "binary":
        raise UnusableFile(f"binary file ({path.suffix.lower()})")
    if data is None:
        data = path.read_bytes()
    if kind == "pdf":
        return Document(path, kind, pdf_sections(data))
    if looks_binary(data[:SNIFF_BYTES]):
        raise UnusableFile("binary content")
    text = decode_text(data)
    if not text.strip():
        raise UnusableFile("empty file")
    if kind == "markdown":
        sections = markdown_sections(text)
    elif kind == "rst":
        sections = rst_sections(text)
    elif kind == "html":
        text = html_to_markdownish(text)
        if not text.strip():
            raise UnusableFile("HTML with no visible text")
        sections = markdown_sections(text)
    elif kind == "code":
        sections = code_sections(text)
    else:
        sections = (Section(text),)
    return Document(path, kind, sections)
