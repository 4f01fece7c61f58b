from __future__ import annotations

import os
from pathlib import Path

import pytest

from smallagent.documents import (
    UnusableFile,
    join_broken_words,
    load_document,
    markdown_headings,
    markdown_sections,
    run_together_tokens,
    run_together_warning,
    scan,
)
from tests.conftest import make_pdf, make_spaceless_pdf


def test_markdown_sections_follow_headings_and_skip_code_fences(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_text(
        "Intro line.\n\n# Install\nRun it.\n\n## Linux\nUse apt.\n\n```sh\n# not a heading\n```\n"
        "# Use\nAsk things.\n"
    )
    document = load_document(path)
    assert document.kind == "markdown"
    headings = [section.heading for section in document.sections]
    assert headings == ["", "Install", "Install > Linux", "Use"]
    assert "# not a heading" in document.sections[2].text
    text = path.read_text()
    for section in document.sections:
        assert text[section.start : section.start + len(section.text)] == section.text


def test_setext_headings_are_headings_at_both_levels() -> None:
    text = "Tidewater\n=========\n\nA weather station.\n\nCalibration\n-----------\n\nTW-8841.\n"
    sections = markdown_sections(text)
    assert [(s.heading, s.text) for s in sections] == [
        ("Tidewater", "Tidewater\n=========\n\nA weather station.\n\n"),
        ("Tidewater > Calibration", "Calibration\n-----------\n\nTW-8841.\n"),
    ]
    assert markdown_headings(text) == [(0, 20, 1, "Tidewater"), (41, 65, 2, "Calibration")]


def test_hashes_in_code_front_matter_and_quotes_are_not_headings() -> None:
    text = (
        "---\ntitle: Guide\n---\n"  # front matter: its closing --- underlines no heading
        "# Guide\n\n"
        "```sh\n# a shell comment\nnot a title\n---\n```\n\n"
        "~~~\n## tilde fence\n~~~\n\n"
        "    # indented code\n\n"
        "> # a quoted title\n\n"
        "Install\n-------\nRun it.\n"
    )
    assert [title for _, _, _, title in markdown_headings(text)] == ["Guide", "Install"]
    headings = [section.heading for section in markdown_sections(text)]
    assert headings == ["", "Guide", "Guide > Install"]


def test_a_heading_with_nothing_under_it_shares_the_section_under_the_next() -> None:
    text = (
        "# Calibration\n\n## Barometer\n\nSet the altitude.\n\n"
        "## Service\n### Code\n\nTW-8841 unlocks the menu.\n\n"
        "# Power\n# Solar panel\n\n6 V.\n\n"
        "## The **panel** `PV-1`\n\nClean it.\n\n"
        "# Appendix\n"
    )
    sections = markdown_sections(text)
    assert [(s.heading, s.text.split("\n")[0]) for s in sections] == [
        ("Calibration > Barometer", "# Calibration"),
        ("Calibration > Service > Code", "## Service"),
        ("Solar panel", "# Power"),  # the same level: the text sits under the second
        ("Solar panel > The panel PV-1", "## The **panel** `PV-1`"),
        ("Appendix", "# Appendix"),  # the last one has no text under it to join
    ]
    assert "".join(section.text for section in sections) == text
    for section in sections:
        assert text[section.start : section.start + len(section.text)] == section.text


def test_rst_titles_become_headings(tmp_path: Path) -> None:
    path = tmp_path / "notes.rst"
    path.write_text("Title\n=====\n\nBody.\n\nPart\n----\n\nMore body.\n")
    headings = [section.heading for section in load_document(path).sections]
    assert headings == ["Title", "Title > Part"]


def test_html_drops_scripts_and_styles_and_keeps_headings(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>t</title><style>body{color:red}</style></head><body>"
        "<script>var secret = 1;</script><h1>Guide</h1><p>Hello <b>world</b>.</p>"
        "<h2>Details</h2><p>More.</p></body></html>"
    )
    document = load_document(path)
    text = "".join(section.text for section in document.sections)
    assert "secret" not in text and "color:red" not in text
    assert "Hello world." in text
    assert [section.heading for section in document.sections] == ["Guide", "Guide > Details"]


def test_pdf_pages_are_kept_for_citations(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "doc.pdf", ["Zebras have stripes.", "", "Giraffes are tall."])
    document = load_document(path)
    assert [(section.page, section.text.strip()) for section in document.sections] == [
        (1, "Zebras have stripes."),
        (3, "Giraffes are tall."),
    ]


def test_words_placed_without_space_glyphs_come_out_separated_on_their_pages(
    tmp_path: Path,
) -> None:
    from pypdf import PdfReader

    lines = ["Zebras have black and white stripes.", "Giraffes are the tallest animals."]
    path = make_spaceless_pdf(tmp_path / "tex.pdf", [lines, [], ["Okapis live in rainforests."]])
    # The fixture reproduces issue 16: pypdf reads these pages with the words run together.
    assert PdfReader(path).pages[0].extract_text().startswith("Zebrashaveblack")
    document = load_document(path)
    assert [(section.page, section.text) for section in document.sections] == [
        (1, "Zebras have black and white stripes.\nGiraffes are the tallest animals."),
        (3, "Okapis live in rainforests."),
    ]
    assert run_together_warning(document) is None


def _outlined_pdf(path: Path) -> Path:
    """Two pages with bookmarks whose titles lack the printed section numbers, as DBLaTeX makes
    them, and a running header that repeats a title above the place it is printed."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=11)

    def write(text: str) -> None:
        pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")

    pdf.add_page()
    pdf.start_section("Compatibility issues", level=0)
    write("Chapter 4\nCompatibility issues\nThis chapter covers hardware and kernels.")
    pdf.start_section("On what hardware does Debian run?", level=1)
    write("4.1 On what hardware does Debian run?\nMany architectures are supported.")
    pdf.add_page()
    write("CHAPTER 4. COMPATIBILITY ISSUES 4.2. WHAT KERNELS DOES DEBIAN RUN?")
    write("Ports come and go with each release.")
    pdf.start_section("What kernels does Debian run?", level=1)
    write("4.2 What kernels does Debian run?\nBeside Linux, Debian supports other kernels.")
    pdf.output(str(path))
    return path


def test_pdf_outline_titles_become_headings_where_they_are_printed(tmp_path: Path) -> None:
    document = load_document(_outlined_pdf(tmp_path / "faq.pdf"))
    chapter, hardware = "Compatibility issues", "4.1 On what hardware does Debian run?"
    kernels = "4.2 What kernels does Debian run?"
    header = "CHAPTER 4. COMPATIBILITY ISSUES 4.2. WHAT KERNELS DOES DEBIAN RUN?"
    assert [(s.page, s.heading, s.text.split("\n")[0]) for s in document.sections] == [
        (1, chapter, "Chapter 4"),
        (1, f"{chapter} > {hardware}", hardware),
        (2, f"{chapter} > {hardware}", header),
        (2, f"{chapter} > {kernels}", kernels),
    ]
    first, second, third, fourth = document.sections  # consecutive spans; pages joined by "\n"
    assert second.start == first.start + len(first.text)
    assert third.start == second.start + len(second.text) + 1
    assert fourth.start == third.start + len(third.text)


def test_line_end_hyphens_are_joined_unless_the_document_hyphenates_the_word() -> None:
    pages = ["the docu\ufffementation of full\ufffeupgrade", "use apt full-upgrade; bro\ufffe"]
    assert join_broken_words(pages) == [
        "the documentation of full-upgrade",
        "use apt full-upgrade; bro-",
    ]


def test_run_together_text_is_flagged_and_spaced_text_is_not(tmp_path: Path) -> None:
    glued = "BesideLinux,Debianprovidesacomplete,binarydistributionforthefollowingkernels. "
    spaced = "Beside Linux, Debian provides a complete, binary distribution for these kernels. "
    assert run_together_tokens(glued) == (1, 1)
    assert run_together_tokens("https://www.debian.org/releases/stable/releasenotes") == (1, 0)
    path = make_pdf(tmp_path / "glued.pdf", [glued * 6, spaced * 6])
    warning = run_together_warning(load_document(path))
    assert warning is not None and warning.startswith("words look run together (")
    assert run_together_warning(load_document(make_pdf(tmp_path / "ok.pdf", [spaced * 20]))) is None


def test_image_only_pdf_is_unusable(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "scan.pdf", ["", ""])
    with pytest.raises(UnusableFile, match="no extractable text"):
        load_document(path)


def test_encrypted_pdf_is_unusable(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    plain = make_pdf(tmp_path / "plain.pdf", ["Secret plans."])
    writer = PdfWriter(clone_from=str(plain))
    writer.encrypt("hunter2", algorithm="RC4-128")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as handle:
        writer.write(handle)
    with pytest.raises(UnusableFile, match="encrypted PDF"):
        load_document(locked)


def test_corrupt_pdf_is_unusable(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "broken.pdf", ["Some text."])
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(UnusableFile, match="PDF"):
        load_document(path)


def test_non_utf8_text_is_decoded_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes("Caf\u00e9 cr\u00e8me \u20ac5".encode("cp1252"))
    assert load_document(path).sections[0].text == "Caf\u00e9 cr\u00e8me \u20ac5"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b"  \n\n ", "empty file"),
        ("data.weird", b"\x00\x01\x02binary", "binary content"),
        ("photo.png", b"\x89PNG", "binary file (.png)"),
    ],
)
def test_unusable_files_say_why(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnusableFile, match=reason.replace("(", r"\(").replace(")", r"\)")):
        load_document(path)


def test_code_json_and_csv_load_as_text(tmp_path: Path) -> None:
    (tmp_path / "tool.py").write_text(
        "import os\n\n\ndef main():\n    return 1\n\n\nclass A:\n    x = 1\n"
    )
    (tmp_path / "conf.json").write_text('{"port": 8080}')
    (tmp_path / "table.csv").write_text("name,age\nada,36\n")
    code = load_document(tmp_path / "tool.py")
    assert code.kind == "code"
    assert [section.text.split()[0] for section in code.sections] == ["import", "def", "class"]
    assert load_document(tmp_path / "conf.json").sections[0].text == '{"port": 8080}'
    assert "ada,36" in load_document(tmp_path / "table.csv").sections[0].text


def _relative(result_files: list, root: Path) -> list[str]:  # type: ignore[type-arg]
    return sorted(found.path.relative_to(root).as_posix() for found in result_files)


def test_scan_honours_ignore_files_hidden_dirs_and_globs(tmp_path: Path) -> None:
    for name in (
        "a.md",
        "b.txt",
        "notes.log",
        "sub/c.md",
        "sub/keep.log",
        ".git/config",
        "build/x.md",
    ):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("text")
    (tmp_path / ".gitignore").write_text("*.log\nbuild/\n")
    (tmp_path / "sub" / ".gitignore").write_text("!keep.log\n")
    result = scan([tmp_path])
    assert _relative(result.files, tmp_path) == ["a.md", "b.txt", "sub/c.md", "sub/keep.log"]
    only_md = scan([tmp_path], include=["*.md"], exclude=["sub/"])
    assert _relative(only_md.files, tmp_path) == ["a.md"]


def test_scan_survives_symlink_loops_and_reports_missing_roots(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("a")
    os.symlink(tmp_path / "docs", tmp_path / "docs" / "loop")
    result = scan([tmp_path / "docs", tmp_path / "missing"])
    assert _relative(result.files, tmp_path) == ["docs/a.txt"]
    assert [(item.path.name, item.reason) for item in result.skipped] == [
        ("missing", "does not exist")
    ]


def test_scan_caps_file_size(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_bytes(b"x" * 5000)
    (tmp_path / "small.txt").write_text("y")
    result = scan([tmp_path], max_file_bytes=1000)
    assert _relative(result.files, tmp_path) == ["small.txt"]
    assert "too large" in result.skipped[0].reason
