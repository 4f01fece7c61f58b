#!/usr/bin/env python3
"""Prove the Ollama build compiles and links for every CPU family smallagent may meet.

Nobody owns all those CPUs, but the compile-and-link step only needs the compiler to target them:
each row builds Ollama v0.24.0 exactly as `ollama_dev.py` does (same `go install`, same flags) with
`-march` set to a family instead of `native`, arm64 through Go's cross-compiler and Debian's
aarch64 gcc. A binary whose instruction set this CPU has is then run (`ollama --version`); an
arm64 binary runs under qemu-user when it is installed. One row deliberately omits the AMX fix to
show the failure it prevents.

  python3 scripts/build_matrix.py [--only NAME ...] [--json bench/results/build-matrix.json]

Takes about 4 minutes a row on 2 cores (Go's build cache makes a repeat fast). Not part of
`make test`: CI builds only for the CPU it runs on. Results are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ollama_dev
from ollama_dev import BuildTarget, SetupError

AARCH64 = {"cc": "aarch64-linux-gnu-gcc", "cxx": "aarch64-linux-gnu-g++"}
# GCC 12 (Debian 12) has no -march=znver4; Zen 4 is Zen 3 plus these AVX-512 extensions.
ZEN4 = (
    "-mavx512f", "-mavx512dq", "-mavx512ifma", "-mavx512cd", "-mavx512bw", "-mavx512vl",
    "-mavx512bf16", "-mavx512vbmi", "-mavx512vbmi2", "-mavx512vnni", "-mavx512bitalg",
    "-mavx512vpopcntdq", "-mgfni", "-mvaes", "-mvpclmulqdq",
)  # fmt: skip


@dataclass(frozen=True)
class Row:
    name: str
    cpus: str
    target: BuildTarget
    expect_success: bool = True


ROWS = (
    Row("x86-64", "any x86-64 (no AVX2): the portable fallback", BuildTarget("amd64", "x86-64")),
    Row("x86-64-v3", "AVX2 + FMA (Haswell+, Zen 1-3)", BuildTarget("amd64", "x86-64-v3")),
    Row("sapphirerapids", "Xeon 4th gen (AVX-512, AMX)", BuildTarget("amd64", "sapphirerapids")),
    Row("arm64-armv8-a", "any 64-bit Arm", BuildTarget("arm64", "armv8-a", **AARCH64)),
    Row("znver4", "AMD Zen 4 (AVX-512)", BuildTarget("amd64", "znver3", extra_flags=ZEN4)),
    Row(
        "sapphirerapids-with-amx",
        "same, without -mno-amx-*: the failure this fixes",
        BuildTarget("amd64", "sapphirerapids", without_amx=False),
        expect_success=False,
    ),
    Row(
        "arm64-armv8.4-a",
        "Graviton 3 class (dotprod, i8mm, SVE)",
        BuildTarget("arm64", "armv8.4-a+dotprod+i8mm+sve", **AARCH64),
    ),
    Row("native", "this machine's CPU", BuildTarget()),
)
OUT = ollama_dev.CACHE / "build-matrix"


def runs_here(target: BuildTarget) -> tuple[list[str] | None, str]:
    """The command prefix that can execute the binary here, or None and why not."""
    here = BuildTarget()
    if target.arch == here.arch:
        # Upper-case macros name instruction sets (__AVX512FP16__); lower-case ones only tuning.
        missing = sorted(name for name in target.isa_macros() - here.isa_macros() if name.isupper())
        if missing:
            return None, f"not run: this CPU lacks {', '.join(missing[:3])}"
        return [], ""
    qemu = shutil.which("qemu-aarch64-static") if target.arch == "arm64" else None
    if qemu:
        return [qemu, "-L", "/usr/aarch64-linux-gnu"], "(under qemu-user)"
    return None, "not run: no emulator for it here"


def build_row(row: Row) -> dict[str, object]:
    binary = OUT / row.name / "ollama"
    record: dict[str, object] = {
        "name": row.name,
        "cpus": row.cpus,
        "goarch": row.target.arch,
        "flags": " ".join(row.target.compiler_flags()),
        "compiler": row.target.cc,
    }
    started = time.monotonic()
    try:
        ollama_dev.build_ollama(row.target, into=binary)
        record["built"] = True
        record["error"] = ""
    except SetupError as error:
        record["built"] = False
        lines = [line for line in str(error).splitlines() if "error" in line.lower()]
        record["error"] = (lines or str(error).splitlines())[-1][:300]
    record["seconds"] = round(time.monotonic() - started, 1)
    record["as_expected"] = record["built"] == row.expect_success
    if record["built"]:
        record["bytes"] = binary.stat().st_size
        prefix, how = runs_here(row.target)
        if prefix is None:
            record["ran"] = how
        else:
            result = subprocess.run(
                [*prefix, str(binary), "--version"], capture_output=True, text=True, check=False
            )
            output = (result.stdout + result.stderr).splitlines()
            said = [line for line in output if "version is" in line] or output[-1:] or ["?"]
            record["ran"] = f"exit {result.returncode}: {said[-1].strip()} {how}".strip()
    return record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", choices=[row.name for row in ROWS])
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    if not shutil.which(AARCH64["cc"]):
        print(f"note: {AARCH64['cc']} missing (apt-get install g++-aarch64-linux-gnu)")
    records = []
    for row in ROWS:
        if args.only and row.name not in args.only:
            continue
        record = build_row(row)
        records.append(record)
        print(json.dumps(record), flush=True)
    print(f"\n{'target':<24} {'built':<6} {'as expected':<12} {'s':>6}  ran / error")
    for record in records:
        detail = record.get("ran") or record["error"]
        print(
            f"{record['name']:<24} {record['built']!s:<6} {record['as_expected']!s:<12} "
            f"{record['seconds']:>6}  {detail}"
        )
    if args.json:  # rows run now replace their earlier records; the others are kept
        earlier = json.loads(args.json.read_text())["rows"] if args.json.exists() else []
        fresh = {record["name"] for record in records}
        kept = [record for record in earlier if record["name"] not in fresh]
        order = [row.name for row in ROWS]
        merged = sorted(kept + records, key=lambda record: order.index(str(record["name"])))
        machine = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((line for line in machine.splitlines() if "Model name" in line), "")
        report = {"machine": model.split(":", 1)[-1].strip(), "rows": merged}
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(record["as_expected"] for record in records) else 1


if __name__ == "__main__":
    sys.exit(main())
