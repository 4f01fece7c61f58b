#!/usr/bin/env python3
"""Create or refresh ./.venv with smallagent and its dev tools; a no-op when nothing changed.

The dependency wheels (torch alone is gigabytes) are kept in ~/.cache/smallagent/wheelhouse:
`pip download` fetches only files it does not have yet, and the install reads from there, so a
fresh clone on a machine that has run this before installs without downloading anything.

pip resolves the dependencies once (a dry run, from package metadata), then installs exactly that
set without the packages in NEVER_LOADED, so the GPU-only parts torch declares are neither
downloaded nor installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".smallagent-deps"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "smallagent"
WHEELHOUSE = CACHE / "wheelhouse"

# Declared by PyPI's Linux torch, never loaded by what smallagent does with it (import torch,
# sentence-transformers' encode, the one-time ONNX export, all on the CPU): triton compiles GPU
# kernels for torch.compile (1.0 GB installed), cuda-bindings/-pathfinder are CUDA's Python API,
# cccl is CUDA C++ headers, nvtx profiler hooks that torch loads only if present. Measured with
# them absent: the test suite passes (docs/benchmarks.md, install footprint). The CUDA libraries
# themselves must stay: PyPI's x86-64 torch links them (libtorch_cuda.so), and without them
# `import torch` fails; the CPU-only torch build lives on download.pytorch.org, which not every
# machine reaches.
NEVER_LOADED = frozenset(
    {"triton", "cuda-bindings", "cuda-pathfinder", "nvidia-cuda-cccl", "nvidia-nvtx"}
)


def requirements() -> list[str]:
    """Runtime and dev dependencies from pyproject.toml, plus the build backend for `-e .`."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    build = pyproject["build-system"]["requires"]
    return [*build, *project["dependencies"], *project["optional-dependencies"]["dev"]]


def fingerprint(reqs: list[str]) -> str:
    """Changes when the requirements, the interpreter or this checkout's location change."""
    text = "\n".join([*reqs, *sorted(NEVER_LOADED), sys.version, str(ROOT)])
    return hashlib.sha256(text.encode()).hexdigest()


def pip(*args: str) -> None:
    subprocess.run([str(PYTHON), "-m", "pip", "--disable-pip-version-check", *args], check=True)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def resolve(reqs: list[str]) -> list[str]:
    """`name==version` for every package the requirements need, less NEVER_LOADED (a dry run:
    pip reads package metadata, not whole wheels)."""
    with tempfile.TemporaryDirectory(prefix="bootstrap-") as scratch:
        report = Path(scratch) / "report.json"
        pip(
            "install", "-q", "--dry-run", "--ignore-installed", "--only-binary=:all:",
            "--find-links", str(WHEELHOUSE), "--report", str(report), *reqs,
        )  # fmt: skip
        chosen = json.loads(report.read_text())["install"]
    pinned = {canonical(item["metadata"]["name"]): item["metadata"]["version"] for item in chosen}
    return [f"{name}=={version}" for name, version in sorted(pinned.items())
            if name not in NEVER_LOADED]  # fmt: skip


def in_wheelhouse(pin: str) -> bool:
    name, version = pin.split("==")
    stem = f"{name.replace('-', '_')}-{version}-".lower()
    return any(wheel.name.lower().startswith(stem) for wheel in WHEELHOUSE.glob("*.whl"))


def pinned_wheels(reqs: list[str]) -> list[str]:
    """The resolved set, remembered per requirements: a warm cache installs without asking an
    index anything; a missing wheel is fetched again."""
    key = hashlib.sha256("\n".join([*reqs, *sorted(NEVER_LOADED), sys.version]).encode())
    lock = CACHE / f"resolved-{key.hexdigest()[:16]}.txt"
    pinned = lock.read_text().split() if lock.exists() else resolve(reqs)
    missing = [pin for pin in pinned if not in_wheelhouse(pin)]
    if missing:
        pip("download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(WHEELHOUSE), *missing)
    lock.write_text("\n".join(pinned) + "\n")
    return pinned


def installed(names: frozenset[str]) -> list[str]:
    listing = subprocess.run(
        [str(PYTHON), "-m", "pip", "list", "--format=json"], capture_output=True, text=True
    )
    present = {canonical(entry["name"]) for entry in json.loads(listing.stdout or "[]")}
    return sorted(present & names)


def main() -> int:
    reqs = requirements()
    wanted = fingerprint(reqs)
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return 0
    if not PYTHON.exists():
        print(f"[bootstrap] creating {VENV}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    print(f"[bootstrap] installing from {WHEELHOUSE} (fetching what it lacks)", file=sys.stderr)
    pinned = pinned_wheels(reqs)
    pip("install", "-q", "--no-index", "--no-deps", "--find-links", str(WHEELHOUSE), *pinned)
    leftovers = installed(NEVER_LOADED)  # from a venv made before they were left out
    if leftovers:
        pip("uninstall", "-q", "-y", *leftovers)
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
