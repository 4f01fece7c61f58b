#!/usr/bin/env python3
"""Fetch and lay out the benchmark corpus: real documentation nobody here wrote.

Python 3.11's library reference (HTML, Debian's python3.11-doc) and two R manuals (PDF, Debian's
r-doc-pdf), taken from the .deb files with `apt-get download` + `dpkg-deb -x`: nothing is installed
system-wide. Every 4th library page (~80 files) keeps one ingest to a couple of minutes on 2 cores;
`python3 bench/corpus.py 1` lays out all of them. `prepare_pdfs()` lays out the PDF corpus of
bench/pdf_bench.py the same way.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "smallagent" / "bench"
PACKAGES = ("python3.11-doc", "r-doc-pdf")
LIBRARY = "usr/share/doc/python3.11/html/library"
PDFS = ("usr/share/doc/r-doc-pdf/manual/R-FAQ.pdf", "usr/share/doc/r-doc-pdf/manual/R-data.pdf")


def prepare(every: int = 4) -> Path:
    """The corpus with every `every`-th library page (4: ~80 pages; 1: all of them, ~320)."""
    target = CACHE / ("corpus" if every == 4 else f"corpus-every-{every}")
    if (target / ".complete").exists():
        return target
    debs, unpacked = CACHE / "debs", CACHE / "root"
    debs.mkdir(parents=True, exist_ok=True)
    if not all(any(debs.glob(f"{name}_*.deb")) for name in PACKAGES):
        subprocess.run(["apt-get", "download", *PACKAGES], cwd=debs, check=True)
    for deb in debs.glob("*.deb"):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
    if target.exists():
        shutil.rmtree(target)
    (target / "python-library").mkdir(parents=True)
    (target / "r-manuals").mkdir()
    for page in sorted((unpacked / LIBRARY).glob("*.html"))[::every]:
        shutil.copy2(page, target / "python-library" / page.name)
    for pdf in PDFS:
        shutil.copy2(unpacked / pdf, target / "r-manuals" / Path(pdf).name)
    (target / ".complete").touch()
    return target


# Real PDFs for bench/pdf_bench.py: three typeset by LaTeX through xdvipdfmx, whose words pypdf
# runs together; two by pdfTeX (from Sphinx and from Texinfo) and one code-heavy manual written
# by ReportLab, where it does not.
PDF_PACKAGES = (
    "debian-faq", "maint-guide", "debian-policy", "developers-reference", "r-doc-pdf",
    "python-reportlab-doc",
)  # fmt: skip
PDF_FILES = (
    "usr/share/doc/debian/FAQ/debian-faq.en.pdf.gz",
    "usr/share/doc/maint-guide/maint-guide.en.pdf",
    "usr/share/doc/debian-policy/policy.pdf.gz",
    "usr/share/developers-reference/developers-reference.pdf",
    "usr/share/doc/r-doc-pdf/manual/R-FAQ.pdf",
    "usr/share/doc/python-reportlab-doc/reportlab-userguide.pdf",
)


def unpack(packages: tuple[str, ...]) -> Path:
    """The packages' files under one root: each .deb downloaded once, then `dpkg-deb -x`."""
    debs, unpacked = CACHE / "debs", CACHE / "root"
    debs.mkdir(parents=True, exist_ok=True)
    missing = [name for name in packages if not any(debs.glob(f"{name}_*.deb"))]
    if missing:
        subprocess.run(["apt-get", "download", *missing], cwd=debs, check=True)
    for name in packages:
        for deb in debs.glob(f"{name}_*.deb"):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
    return unpacked


def prepare_pdfs() -> Path:
    """The PDF corpus: one folder of real manuals, unzipped where Debian ships them gzipped."""
    import gzip

    target, listing = CACHE / "pdfs", "\n".join(PDF_FILES)
    if (target / ".complete").exists() and (target / ".complete").read_text() == listing:
        return target
    unpacked = unpack(PDF_PACKAGES)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in PDF_FILES:
        source = unpacked / name
        if source.suffix == ".gz":
            (target / source.stem).write_bytes(gzip.decompress(source.read_bytes()))
        else:
            shutil.copy2(source, target / source.name)
    (target / ".complete").write_text(listing)
    return target


if __name__ == "__main__":
    corpus = prepare(int(sys.argv[1]) if len(sys.argv) > 1 else 4)
    files = [path for path in corpus.rglob("*") if path.is_file() and path.name != ".complete"]
    size = sum(path.stat().st_size for path in files)
    print(f"{corpus}: {len(files)} files, {size / 1e6:.1f} MB", file=sys.stderr)
    print(corpus)
