"""Walk folders and turn each readable file into a Document of sections (pages, headed parts).

A file that cannot be used is never an exception for the caller: it becomes a Skipped entry with a
reason the user can read, and the ingest goes on.
"""

from __future__ import annotations

import bisect
import codecs
import functools
import itertools
import os
import re
import stat
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Sequence
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
    """The folder's ignore rules; OSError when the folder cannot be searched (no `x` permission)."""
    import pathspec

    lines: list[str] = []
    for name in IGNORE_FILES:
        candidate = directory / name
        if candidate.is_file():  # raises PermissionError, not False, in a folder we cannot search
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

    # A stack of open folders instead of recursion: a tree 1,200 folders deep is a valid input.
    Frame = tuple[Iterator[os.DirEntry[str]], list[tuple[Path, Any]]]

    def enter(directory: Path, ignores: list[tuple[Path, Any]], stack: list[Frame]) -> None:
        try:
            info = directory.stat()
        except OSError as error:
            result.skipped.append(Skipped(directory, f"cannot open folder: {error.strerror}"))
            return
        key = (info.st_dev, info.st_ino)
        if key in seen_dirs:
            return  # a symlink loop, or the same folder reached twice
        seen_dirs.add(key)
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            result.skipped.append(Skipped(directory, f"cannot list folder: {error.strerror}"))
            return
        try:
            spec = _load_ignore_spec(directory)
        except OSError as error:
            result.skipped.append(Skipped(directory, f"cannot read folder: {error.strerror}"))
            return
        if spec is not None:
            ignores = [*ignores, (directory, spec)]
        stack.append((iter(entries), ignores))

    def walk(top: Path, root: Path) -> None:
        """Depth first, entries in name order: the order the recursive walk had."""
        stack: list[Frame] = []
        enter(top, [], stack)
        while stack:
            entries, ignores = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                continue
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
                enter(path, ignores, stack)
            elif entry_info is not None and stat.S_ISREG(entry_info.st_mode):
                consider(path, path.relative_to(root).as_posix(), entry_info)

    for root in roots:
        root = Path(os.path.abspath(root))
        try:
            info = root.stat()
        except FileNotFoundError:
            result.skipped.append(Skipped(root, "does not exist"))
            continue
        except OSError as error:  # e.g. a parent folder we may not search
            result.skipped.append(Skipped(root, f"cannot open: {error.strerror}"))
            continue
        if stat.S_ISDIR(info.st_mode):
            walk(root, root)
        elif stat.S_ISREG(info.st_mode):
            consider(root, root.name, info)
        else:
            result.skipped.append(Skipped(root, "not a regular file or folder"))
    return result


# --- loading ----------------------------------------------------------------------------------


# Byte order marks, longest first: the UTF-32-LE mark begins with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Control characters a text file may hold: tab, line and page breaks, backspace (overstruck man
# pages), escape (coloured logs). Any other C0/C1 control, DEL or U+FFFD counts against it.
_TEXT_CONTROLS = frozenset("\t\n\v\f\r\b\x1b")
# Random bytes hold about 10% such characters (26 of the 256 byte values are C0 controls or DEL),
# a text file almost none; the cut sits between with room on both sides.
BINARY_CONTROL_SHARE = 0.05
_FFFD = "\ufffd"  # what a decoder puts for bytes it cannot read


def _zero_share(head: bytes, offset: int, step: int) -> float:
    picked = head[offset::step]
    return picked.count(0) / len(picked) if picked else 0.0


def _wide_encoding(head: bytes) -> str | None:
    """UTF-16 or UTF-32 without a BOM, told by where its zero bytes fall.

    Text mostly below U+0100 puts a zero byte in every code unit, always on the same side:
    >>> _wide_encoding("plain text".encode("utf-16-le")), _wide_encoding(b"\\x00\\x01\\x02")
    ('utf-16-le', None)
    """
    whole = head[: len(head) - len(head) % 4]
    if len(whole) >= 8:
        zeros = [_zero_share(whole, offset, 4) for offset in range(4)]
        if zeros[0] < 0.05 and min(zeros[2], zeros[3]) > 0.9:
            return "utf-32-le"
        if zeros[3] < 0.05 and min(zeros[0], zeros[1]) > 0.9:
            return "utf-32-be"
    if len(head) >= 4:
        even, odd = _zero_share(head, 0, 2), _zero_share(head, 1, 2)
        if even < 0.05 and odd > 0.1:
            return "utf-16-le"
        if odd < 0.05 and even > 0.1:
            return "utf-16-be"
    return None


def control_share(text: str) -> float:
    """The share of characters no text file holds (see `_TEXT_CONTROLS` for those it may).

    >>> control_share("two\\ttabs\\n"), control_share("\\x01\\x02ab")
    (0.0, 0.5)
    """
    if not text:
        return 0.0
    odd = sum(
        1
        for char in text
        if (char < " " and char not in _TEXT_CONTROLS) or "\x7f" <= char <= "\x9f" or char == _FFFD
    )
    return odd / len(text)


def decode_text(data: bytes) -> str:
    """The text of a file, or UnusableFile("binary content ...") when it holds none.

    A BOM names the encoding (UTF-8, UTF-16, UTF-32); so does the zero-byte pattern of UTF-16/32
    written without one. Otherwise a zero byte means binary, as it does for git and grep; else UTF-8
    when the bytes are valid UTF-8, else Windows-1252, the usual encoding of legacy text. Whatever
    was decoded, a share of control characters above BINARY_CONTROL_SHARE in its first 8 KB marks
    a binary file that happens to hold no zero byte (compressed or random data).
    """
    head = data[:SNIFF_BYTES]
    for bom, codec in _BOMS:
        if data.startswith(bom):
            text = data[len(bom) :].decode(codec, errors="replace")
            break
    else:
        wide = _wide_encoding(head) if b"\x00" in head else None
        if wide is not None:
            text = data.decode(wide, errors="replace")
        elif b"\x00" in head:
            raise UnusableFile("binary content")
        else:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = data.decode("cp1252", errors="replace")
    share = control_share(text[:SNIFF_BYTES])
    if share > BINARY_CONTROL_SHARE:
        raise UnusableFile(f"binary content ({share:.0%} control characters)")
    return text


_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+<>:.])\1{2,}\s*$")
# Lines as CommonMark counts them (markdown-it's `map` numbers these); str.splitlines would also
# break at \v, \f and U+2028, and the numbers would drift.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_FRONT_MATTER_END = re.compile(r"^(?:---|\.\.\.)[ \t]*$")


def _split_by_headings(
    text: str, headings: Sequence[tuple[int, int, str]], joined: Collection[int] = ()
) -> tuple[Section, ...]:
    """Cut text at (offset, level, title) points; each section's heading is its title path.

    A heading whose index is in `joined` starts no section: the text before it (a heading with
    nothing under it) stays with it, under its path.
    """
    sections: list[Section] = []
    trail: list[tuple[int, str]] = []
    previous, previous_heading = 0, ""
    for index, (offset, level, title) in enumerate([*headings, (len(text), 0, "")]):
        if index not in joined:
            body = text[previous:offset]
            if body.strip():
                sections.append(Section(body, heading=previous_heading, start=previous))
            previous = offset
        if not title:
            break
        trail = [(lvl, name) for lvl, name in trail if lvl < level] + [(level, title)]
        previous_heading = " > ".join(name for _, name in trail)
    return tuple(sections)


@functools.cache
def _markdown_parser() -> Any:
    from markdown_it import MarkdownIt  # only an ingest reads Markdown; `--help` must not pay

    return MarkdownIt("commonmark")


def _plain_title(inline: Any) -> str:
    """A heading's words as a reader sees them: `**code** TW-1` -> `code TW-1`."""
    parts = [
        " " if child.type in {"softbreak", "hardbreak"} else child.content
        for child in inline.children or ()
        if child.type in {"text", "code_inline", "image", "softbreak", "hardbreak"}
    ]
    return " ".join(("".join(parts) if parts else inline.content).split())


def _blank_front_matter(lines: list[str]) -> list[str]:
    """YAML front matter (`---` ... `---` or `...` at the top) blanked, lines kept: its closing
    `---` would otherwise underline the last key as a setext heading."""
    if not lines or lines[0].rstrip("\r\n") != "---":
        return lines
    for number in range(1, len(lines)):
        if _FRONT_MATTER_END.match(lines[number].rstrip("\r\n")):
            return ["\n"] * (number + 1) + lines[number + 1 :]
    return lines


def markdown_headings(text: str) -> list[tuple[int, int, int, str]]:
    """(start, end, level, title) of each top-level heading, ATX (`# Title`) or setext (`Title`
    over `===` or `---`), found by a CommonMark parser: a `#` line in a code block, an HTML block
    or front matter is not a heading. `start`/`end` are the heading's character span in `text`.

    >>> markdown_headings("Title\\n=====\\n\\n```\\n# not one\\n```\\nSub\\n---\\n")
    [(0, 12, 1, 'Title'), (31, 39, 2, 'Sub')]
    """
    lines = [line.group() for line in _LINE.finditer(text)]
    starts = [0, *itertools.accumulate(map(len, lines))]
    tokens = _markdown_parser().parse("".join(_blank_front_matter(lines)))
    headings = []
    for token, inline in itertools.pairwise(tokens):
        if token.type == "heading_open" and token.level == 0 and token.map:
            title = _plain_title(inline)
            if title:
                first, last = token.map
                headings.append((starts[first], starts[last], int(token.tag[1:]), title))
    return headings


def markdown_sections(text: str) -> tuple[Section, ...]:
    """Sections at the Markdown headings. A heading with nothing under it but another heading
    (`# Calibration` then `## Barometer`) shares that heading's section, so no chunk holds a title
    alone: the passage under it carries both titles and ranks for either."""
    headings = markdown_headings(text)
    joined = [
        number + 1
        for number, (before, after) in enumerate(itertools.pairwise(headings))
        if not text[before[1] : after[0]].strip()
    ]
    cuts = [(start, level, title) for start, _, level, title in headings]
    return _split_by_headings(text, cuts, joined)


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


# PDFium's document-loading error codes (FPDF_ERR_*), as the reason a user reads.
_PDFIUM_LOAD_ERRORS = {
    2: "unreadable PDF (PDFium: file error)",
    3: "corrupt PDF (PDFium: data format error)",
    4: "encrypted PDF (needs a password)",
    5: "encrypted PDF (unsupported security handler)",
    6: "corrupt PDF (PDFium: page not found or content error)",
}
_RUNNING_HEADER_CHARS = 80  # one short line before a page's first heading is not a section
_LINE_BREAK_HYPHEN = "\ufffe"  # PDFium's mark for a hyphen it removed to join a broken line
_BROKEN_WORD = re.compile(r"(\w+)\ufffe(\w+)")
_ALNUM_RUN = re.compile(r"[^\W_]+")
_HYPHENATED = re.compile(r"\w+(?:-\w+)+")
_SECTION_NUMBER = re.compile(r"(?:\d+|[A-Z])(?:\.\d+)*\.?")
_LABEL_LINE = re.compile(r"(?:[A-Za-z]+ )?(?:\d+|[A-Z]|[IVXLC]+)\.?")  # "Chapter 4", "Appendix A"


def join_broken_words(pages: Sequence[str]) -> list[str]:
    """Undo line-end hyphenation that PDFium marked with U+FFFE, using the document's own words.

    A word the document also writes with a hyphen keeps it; any other break is a syllable break:
    >>> join_broken_words(["docu\\ufffementation on debian\\ufffeuser", "see debian-user"])
    ['documentation on debian-user', 'see debian-user']
    """
    if not any(_LINE_BREAK_HYPHEN in page for page in pages):
        return list(pages)
    hyphenated = {word.lower() for page in pages for word in _HYPHENATED.findall(page)}

    def join(match: re.Match[str]) -> str:
        left, right = match.group(1), match.group(2)
        return f"{left}-{right}" if f"{left}-{right}".lower() in hyphenated else left + right

    return [
        _BROKEN_WORD.sub(join, page).replace(_LINE_BREAK_HYPHEN, "-")  # a break at a page end
        for page in pages
    ]


@dataclass(frozen=True)
class _Letters:
    """A page's letters and digits only, lowercased: outline titles and pages rarely agree on
    spacing, quotes, hyphens or capitals, but they agree on this. Kept as runs (words) so that
    a letter's offset in the page is a bisection away.

    >>> page = _Letters.of("Up-grades in 'stable'?")
    >>> page.text, page.offset(2), page.offset(8)
    ('upgradesinstable', 3, 10)
    """

    text: str
    run_letters: list[int]  # where each run starts among the letters
    run_offsets: list[int]  # and in the page

    @classmethod
    def of(cls, page: str) -> _Letters:
        runs = [(run.start(), run.group()) for run in _ALNUM_RUN.finditer(page)]
        words = [word for _, word in runs]
        text = "".join(words).lower()
        if len(text) != sum(
            map(len, words)
        ):  # a letter whose lowercase is longer (İ) keeps its case
            text = "".join(
                word.lower() if len(word.lower()) == len(word) else word for word in words
            )
        starts = [0, *itertools.accumulate(map(len, words))]
        return cls(text, starts[:-1], [offset for offset, _ in runs])

    def offset(self, index: int) -> int:
        run = bisect.bisect_right(self.run_letters, index) - 1
        return self.run_offsets[run] + index - self.run_letters[run]

    def index(self, offset: int) -> int:
        """The first letter at or after `offset` in the page."""
        run = bisect.bisect_right(self.run_offsets, offset) - 1
        if run < 0:
            return 0
        return self.run_letters[run] + min(offset - self.run_offsets[run], self._length(run))

    def _length(self, run: int) -> int:
        following = self.run_letters[run + 1] if run + 1 < len(self.run_letters) else len(self.text)
        return following - self.run_letters[run]


def _place_heading(text: str, letters: _Letters, title: str, start: int) -> tuple[int, str] | None:
    """Where an outline title is printed on its page (at or after `start`), and its printed form.

    `letters` is `_Letters.of(text)`. Of several matches the first that fills its line(s) wins (a
    heading, not a mention in a sentence or a running header), else the first one. A section
    number printed before the title ("4.2") joins the heading, and a label line just above it
    ("Chapter 4") moves the cut up.
    """
    wanted = "".join(_ALNUM_RUN.findall(unicodedata.normalize("NFKC", title))).lower()
    if not wanted:
        return None
    first: tuple[int, str] | None = None
    found = letters.text.find(wanted, letters.index(start))
    while found >= 0:
        at, end = letters.offset(found), letters.offset(found + len(wanted) - 1) + 1
        found = letters.text.find(wanted, found + 1)
        line_start = text.rfind("\n", 0, at) + 1
        line_end = len(text) if (newline := text.find("\n", end)) < 0 else newline
        prefix = text[line_start:at].strip()
        numbered = bool(_SECTION_NUMBER.fullmatch(prefix))
        heading = f"{prefix} {title}" if numbered else title
        if prefix and not numbered:
            first = first or (at, heading)
            continue
        cut = line_start
        above = text[text.rfind("\n", 0, max(line_start - 1, 0)) + 1 : max(line_start - 1, 0)]
        if line_start > 0 and _LABEL_LINE.fullmatch(above.strip()):
            cut = line_start - 1 - len(above)
        placed = (max(cut, start), heading)
        if not any(char.isalnum() for char in text[end:line_end]):
            return placed  # the title fills its line(s)
        first = first or placed
    return first


def _pdf_outline(document: Any) -> list[tuple[int, int, str]]:
    """(page index, level, title) of each bookmark that points at a page, in outline order."""
    entries: list[tuple[int, int, str]] = []
    for bookmark in document.get_toc():
        destination = bookmark.get_dest()
        page = destination.get_index() if destination is not None else None
        title = " ".join((bookmark.get_title() or "").split())
        if page is not None and title:
            entries.append((page, bookmark.level + 1, title))
    return entries


def _pdf_pages(document: Any) -> list[str]:
    texts = []
    for index in range(len(document)):
        page = document[index]
        try:
            textpage = page.get_textpage()
            try:
                text = textpage.get_text_range()
            finally:
                textpage.close()
        finally:
            page.close()
        # NFKC: ligatures (ﬁ), no-break spaces and compatibility forms become what a user types
        texts.append(unicodedata.normalize("NFKC", text.replace("\r\n", "\n").replace("\r", "\n")))
    return join_broken_words(texts)


def pdf_sections(data: bytes) -> tuple[Section, ...]:
    """One section per page, cut again where an outline (bookmark) heading is printed on it.

    PDFium reads the text: it infers word spaces from glyph positions, which LaTeX-typeset files
    need (they draw no space glyphs). Page numbers are 1-based, as a reader cites them.
    """
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as error:
        reason = _PDFIUM_LOAD_ERRORS.get(error.err_code or 0, f"unreadable PDF ({error})")
        raise UnusableFile(reason) from None
    try:
        pages = _pdf_pages(document)
        outline = _pdf_outline(document)
    except Exception as error:  # a broken page or outline must not stop an ingest
        raise UnusableFile(f"unreadable PDF ({type(error).__name__}: {error})") from None
    finally:
        document.close()
    if not any(text.strip() for text in pages):
        raise UnusableFile("PDF has no extractable text (scanned or image-only?)")
    return _split_pages(pages, outline)


def _split_pages(
    pages: Sequence[str], outline: Sequence[tuple[int, int, str]]
) -> tuple[Section, ...]:
    cuts: dict[int, list[tuple[int, int, str]]] = {}  # page index -> (offset, level, heading)
    searched_from: dict[int, int] = {}
    letters: dict[int, _Letters] = {}
    for page, level, title in outline:
        if page >= len(pages):
            continue
        if page not in letters:
            letters[page] = _Letters.of(pages[page])
        placed = _place_heading(pages[page], letters[page], title, searched_from.get(page, 0))
        offset, heading = placed if placed else (searched_from.get(page, 0), title)
        searched_from[page] = offset
        cuts.setdefault(page, []).append((offset, level, heading))
    sections: list[Section] = []
    trail: list[tuple[int, str]] = []
    document_offset = 0
    for index, text in enumerate(pages):
        if not text.strip():
            for _, level, heading in cuts.get(index, []):
                trail = [(lvl, name) for lvl, name in trail if lvl < level] + [(level, heading)]
            continue
        previous = 0
        for offset, level, heading in [*sorted(cuts.get(index, [])), (len(text), 0, "")]:
            body = text[previous:offset].strip()
            if heading and previous == 0 and len(body) < _RUNNING_HEADER_CHARS and "\n" not in body:
                pass  # a running header above the page's first heading goes with the heading
            else:
                if body:
                    path = " > ".join(name for _, name in trail)
                    start = document_offset + previous
                    sections.append(Section(text[previous:offset], path, index + 1, start))
                previous = offset
            if not heading:
                break
            trail = [(lvl, name) for lvl, name in trail if lvl < level] + [(level, heading)]
        document_offset += len(text) + 1
    return tuple(sections)


# A text whose words run together (a PDF that draws no space glyphs, read by a library that does
# not infer them) has many very long letter-only tokens; a well-spaced one has almost none. Six
# real PDFs (docs/benchmarks.md): 0.0-0.6% of tokens when spaced (0.6%: a code-heavy manual),
# 5.4-10.6% when run together.
RUN_TOGETHER_LETTERS = 20
RUN_TOGETHER_SHARE = 0.02
RUN_TOGETHER_MIN_TOKENS = 5
_PROSE_PUNCTUATION = frozenset(",.;!?()'\"\u2018\u2019\u201c\u201d")


def run_together_tokens(text: str) -> tuple[int, int]:
    """(tokens, tokens of 20+ letters with nothing but prose punctuation between them).

    URLs, paths, identifiers and hyphenated compounds carry other characters and do not count:
    >>> run_together_tokens("BesideLinux,Debianprovidesacomplete,binary see /usr/share/doc-base")
    (3, 1)
    """
    tokens = text.split()
    long = 0
    for token in tokens:
        letters = sum(char.isalpha() for char in token)
        if letters >= RUN_TOGETHER_LETTERS and all(
            char.isalpha() or char in _PROSE_PUNCTUATION for char in token
        ):
            long += 1
    return len(tokens), long


def run_together_warning(document: Document) -> str | None:
    """Why a PDF's extracted text looks like words run together, or None when it looks fine."""
    if document.kind != "pdf":
        return None  # other kinds are the author's own text, not a layout read back
    tokens, long = run_together_tokens("\n".join(section.text for section in document.sections))
    if long < RUN_TOGETHER_MIN_TOKENS or long < RUN_TOGETHER_SHARE * tokens:
        return None
    return (
        f"words look run together ({long / tokens:.0%} of {tokens} words are "
        f"{RUN_TOGETHER_LETTERS}+ letters); indexed anyway, but search may miss them"
    )


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
