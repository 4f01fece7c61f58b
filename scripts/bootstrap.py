#!/usr/bin/env python3
"""Create or refresh ./.venv with smallagent and its dev tools; a no-op when nothing changed.

The dependency wheels (torch alone is gigabytes) are kept in ~/.cache/smallagent/wheelhouse:
`pip download` fetches only files it does not have yet, and the install reads from there, so a
fresh clone on a machine that has run this before installs without downloading anything.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".smallagent-deps"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "smallagent"
WHEELHOUSE = CACHE / "wheelhouse"


def requirements() -> list[str]:
    """Runtime and dev dependencies from pyproject.toml, plus the build backend for `-e .`."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    build = pyproject["build-system"]["requires"]
    return [*build, *project["dependencies"], *project["optional-dependencies"]["dev"]]


def fingerprint(reqs: list[str]) -> str:
    """Changes when the requirements, the interpreter or this checkout's location change."""
    text = "\n".join([*reqs, sys.version, str(ROOT)])
    return hashlib.sha256(text.encode()).hexdigest()


def pip(*args: str) -> None:
    subprocess.run([str(PYTHON), "-m", "pip", "--disable-pip-version-check", *args], check=True)


def main() -> int:
    reqs = requirements()
    wanted = fingerprint(reqs)
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return 0
    if not PYTHON.exists():
        print(f"[bootstrap] creating {VENV}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    print(f"[bootstrap] fetching wheels into {WHEELHOUSE} (only the missing ones)", file=sys.stderr)
    pip("download", "-q", "--only-binary=:all:", "-d", str(WHEELHOUSE), *reqs)
    pip("install", "-q", "--no-index", "--find-links", str(WHEELHOUSE), *reqs)
    pip("install", "-q", "--no-deps", "--no-build-isolation", "-e", str(ROOT))
    STAMP.write_text(wanted + "\n")
    print("[bootstrap] .venv is ready", file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as error:
        print(
            f"[bootstrap] error: `{' '.join(error.cmd)}` failed ({error.returncode})",
            file=sys.stderr,
        )
        sys.exit(1)
