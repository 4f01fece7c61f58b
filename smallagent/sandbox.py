"""The kernel sandbox for shell commands: Landlock, applied in the child just before exec.

A command the read-only policy admits runs as `python -I -S sandbox.py WORKDIR PROGRAM ARGS...`:
this file, run as a script (standard library only, nothing of smallagent imported), builds a
Landlock ruleset, sets no_new_privs, restricts itself and execs the program. From then on the
kernel, not a string check, decides what the command may touch:

- read: the system directories programs load from (/usr, /bin, /lib*), a few files of /etc that
  libc, `ls -l`, `date` and `file` read, /dev/null, /dev/zero, /dev/urandom, the command's own
  /proc entry, and the working directory;
- execute: the program itself and its ELF interpreter, nothing else (so `sort --compress-program`
  or a shell cannot start another program);
- write, create, delete, rename, link, truncate, make devices or sockets: nowhere (the pipes to
  the parent were opened before and stay usable);
- TCP bind and connect: none (ABI 4 and later); abstract unix sockets and signals outside the
  sandbox: none (ABI 6 and later);
- capabilities: none, root included (the bounding set is emptied before exec), so root cannot set
  the clock or override file permissions from inside;
- what Landlock does not mediate, a seccomp filter denies: changing a file's mode, owner, times
  or extended attributes, and opening IP or packet sockets (so no UDP either).

Rights a kernel does not know are masked off by its ABI version (1 to 7 here), so an older kernel
enforces what it can. A failure to confine is an error, never an unconfined run.

Direct ctypes syscalls, not the `landlock` package on PyPI: that binding is a dev release
(1.0.0.dev5) that covers filesystem rules only, while the syscalls are three numbers and two small
structs, the same on x86_64 and arm64.
"""

from __future__ import annotations

import ctypes
import os
import stat
import sys

TYPE_CHECKING = False  # not `from typing import`: typing alone costs the child 9 ms

if TYPE_CHECKING:  # the child runs this file with nothing to spare: standard modules it needs only
    from collections.abc import Sequence
    from pathlib import Path
    from typing import Any

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
CAPABILITY_VERSION_3 = 0x20080522
SUPPORTED_MACHINES = ("x86_64", "aarch64", "arm64")

# handled_access_fs bits, and the ABI that introduced each
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_ABI_1 = (1 << 13) - 1  # execute … make_sym
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15  # ABI 2, 3, 5
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

SYSTEM_DIRECTORIES = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = (
    "/etc/ld.so.cache", "/etc/ld.so.preload", "/etc/localtime", "/etc/timezone", "/etc/passwd",
    "/etc/group", "/etc/nsswitch.conf", "/etc/magic", "/etc/magic.mime", "/dev/null",
    "/dev/zero", "/dev/urandom",
)  # fmt: skip


class RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel's struct is packed: 12 bytes
    _fields_ = [
        ("allowed_access", ctypes.c_uint64),
        ("parent_fd", ctypes.c_int32),
    ]


class CapabilityHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapabilityData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _syscall() -> Any:
    if sys.platform != "linux" or os.uname().machine not in SUPPORTED_MACHINES:
        return None
    function = ctypes.CDLL(None, use_errno=True).syscall
    function.restype = ctypes.c_long
    return function


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 where there is none (old kernel, off, not Linux)."""
    syscall = _syscall()
    if syscall is None:
        return 0
    version = syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(0, int(version))


def handled_rights(abi: int) -> tuple[int, int, int]:
    """(filesystem, network, scope) rights to handle, masked to what this ABI knows.

    >>> handled_rights(1)
    (8191, 0, 0)
    >>> handled_rights(7) == (2**16 - 1, 3, 3)
    True
    """
    fs = FS_ABI_1
    fs |= REFER if abi >= 2 else 0
    fs |= TRUNCATE if abi >= 3 else 0
    fs |= IOCTL_DEV if abi >= 5 else 0
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scope = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    return fs, net, scope


def command_prefix(workdir: Path) -> list[str]:
    """What goes before a command's argv to run it confined to `workdir`, read-only."""
    return [sys.executable, "-I", "-S", os.path.abspath(__file__), str(workdir)]


def wrap(workdir: Path, argv: Sequence[str]) -> list[str]:
    return [*command_prefix(workdir), *argv]


# --- the child's side ------------------------------------------------------------------------


def _find_program(name: str) -> str | None:
    if "/" in name:
        return name if os.access(name, os.X_OK) else None
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _interpreter(program: str) -> str | None:
    """The ELF interpreter (ld.so) a binary asks for, or the `#!` interpreter of a script."""
    with open(program, "rb") as handle:
        head = handle.read(64)
        if head.startswith(b"#!"):
            words = (head + handle.read(4032))[2:].split(b"\n", 1)[0].split()
            return os.fsdecode(words[0]) if words else None
        if head[:4] != b"\x7fELF" or len(head) < 64:
            return None
        wide, big = head[4] == 2, head[5] == 2

        def number(data: bytes, start: int, end: int) -> int:
            return int.from_bytes(data[start:end], "big" if big else "little")

        table, entry_size, entries = (
            (number(head, 32, 40), number(head, 54, 56), number(head, 56, 58))
            if wide
            else (number(head, 28, 32), number(head, 42, 44), number(head, 44, 46))
        )
        for index in range(min(entries, 64)):
            handle.seek(table + index * entry_size)
            entry = handle.read(entry_size)
            if number(entry, 0, 4) != 3:  # PT_INTERP
                continue
            offset = number(entry, 8, 16) if wide else number(entry, 4, 8)
            size = number(entry, 32, 40) if wide else number(entry, 16, 20)
            handle.seek(offset)
            return os.fsdecode(handle.read(min(size, 4096)).rstrip(b"\0"))
    return None


def _executables(program: str) -> list[str]:
    """The program and the interpreters the kernel opens to run it (a script's, then ld.so)."""
    found = [program]
    while len(found) < 4:
        interpreter = _interpreter(found[-1])
        if interpreter is None or interpreter in found:
            break
        found.append(interpreter)
    return found


def _empty_bounding_set(libc: Any) -> None:
    """Landlock does not cover capabilities: as root, `date -s` would still set the clock. With
    the bounding set empty, root's programs exec with no capabilities at all."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as handle:
            last = int(handle.read())
    except (OSError, ValueError):
        last = 63
    for capability in range(last + 1):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            if os.geteuid() == 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")
            break  # not root: nothing to drop that exec would grant (no_new_privs covers files)
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)  # EINVAL before Linux 4.3


def _clear_capabilities(libc: Any) -> None:
    header = CapabilityHeader(CAPABILITY_VERSION_3, 0)
    data = (CapabilityData * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


# What Landlock leaves open, closed with seccomp: changing a file's mode, owner, times or extended
# attributes (Landlock does not mediate them), and sockets of the IP and packet families (it
# covers TCP only). Per architecture: its AUDIT_ARCH value, then syscall numbers.
SECCOMP_ARCHES = {
    "x86_64": (0xC000003E, {
        "chmod": 90, "fchmod": 91, "chown": 92, "fchown": 93, "lchown": 94, "utime": 132,
        "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190, "removexattr": 197,
        "lremovexattr": 198, "fremovexattr": 199, "utimes": 235, "fchownat": 260,
        "futimesat": 261, "fchmodat": 268, "utimensat": 280, "fchmodat2": 452,
        "setxattrat": 463, "removexattrat": 466,
    }, 41),
    "aarch64": (0xC00000B7, {
        "setxattr": 5, "lsetxattr": 6, "fsetxattr": 7, "removexattr": 14, "lremovexattr": 15,
        "fremovexattr": 16, "fchmod": 52, "fchmodat": 53, "fchownat": 54, "fchown": 55,
        "utimensat": 88, "fchmodat2": 452, "setxattrat": 463, "removexattrat": 466,
    }, 198),
}  # fmt: skip
DENIED_SOCKET_FAMILIES = (2, 10, 17)  # AF_INET, AF_INET6, AF_PACKET
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
RET_ALLOW, RET_KILL_PROCESS, RET_EPERM = 0x7FFF0000, 0x80000000, 0x00050000 | 1


class SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


def seccomp_program(machine: str) -> list[tuple[int, int, int, int]]:
    """The classic-BPF filter as (code, jump if true, jump if false, k) instructions.

    Another architecture's calling convention (i386 or x32 on x86_64) is killed outright, so
    its syscall numbers cannot slip past the list.
    """
    load, jump_equal, jump_at_least, ret = 0x20, 0x15, 0x35, 0x06
    arch, blocked, socket_call = SECCOMP_ARCHES["aarch64" if machine == "arm64" else machine]
    numbers = sorted(set(blocked.values()))
    body: list[tuple[int, int, int, int]] = [(load, 0, 0, 0)]  # the syscall number
    if machine == "x86_64":
        body.append((jump_at_least, 0, 0, 0x40000000))  # x32: patched to jump to "deny" below
    body += [(jump_equal, 0, 0, number) for number in numbers]
    body.append((jump_equal, 0, 0, socket_call))  # patched: to the socket family checks
    body.append((ret, 0, 0, RET_ALLOW))
    socket_checks = [(load, 0, 0, 16)]  # args[0], the low half (both targets are little-endian)
    socket_checks += [(jump_equal, 0, 0, family) for family in DENIED_SOCKET_FAMILIES]
    socket_checks.append((ret, 0, 0, RET_ALLOW))
    program = [(load, 0, 0, 4), (jump_equal, 1, 0, arch), (ret, 0, 0, RET_KILL_PROCESS)]
    start = len(program)
    program += body + socket_checks + [(ret, 0, 0, RET_EPERM)]
    deny = len(program) - 1
    socket_start = start + len(body)
    for index in range(start, deny):
        code, _, _, k = program[index]
        if code in (jump_equal, jump_at_least):
            is_socket = index == socket_start - 2
            target = socket_start if is_socket else deny
            program[index] = (code, target - index - 1, 0, k)
    return program


def _install_seccomp(libc: Any) -> None:
    machine = os.uname().machine
    instructions = seccomp_program(machine)
    filters = (SockFilter * len(instructions))(*(SockFilter(*i) for i in instructions))
    program = SockFprog(len(instructions), filters)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(program), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")


def confine(workdir: str, executables: Sequence[str], abi: int) -> None:
    """Restrict this process (and what it execs) to reading; raises OSError when it cannot."""
    syscall = _syscall()
    if syscall is None or abi < 1:
        raise OSError("Landlock is not available")
    fs, net, scope = handled_rights(abi)
    attr = RulesetAttr(fs, net, scope)
    size = ctypes.sizeof(RulesetAttr) if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        readable = [(path, READ_FILE | READ_DIR) for path in SYSTEM_DIRECTORIES]
        readable += [(path, READ_FILE) for path in SYSTEM_FILES]
        readable += [
            (f"/proc/{os.getpid()}", READ_FILE | READ_DIR),
            (workdir, READ_FILE | READ_DIR),
        ]
        readable += [(path, READ_FILE | EXECUTE) for path in executables]
        for path, access in readable:
            try:
                descriptor = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # absent on this system: nothing to allow
            try:
                is_directory = stat.S_ISDIR(os.fstat(descriptor).st_mode)
                allowed = access if is_directory else access & (READ_FILE | EXECUTE)
                rule = PathBeneathAttr(allowed & fs, descriptor)
                if syscall(SYS_ADD_RULE, ruleset, RULE_PATH_BENEATH, ctypes.byref(rule), 0) < 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
            finally:
                os.close(descriptor)
        libc = ctypes.CDLL(None, use_errno=True)
        _empty_bounding_set(libc)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if syscall(SYS_RESTRICT_SELF, ruleset, 0) < 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
        _clear_capabilities(libc)
        _install_seccomp(libc)
    finally:
        os.close(ruleset)


def main(arguments: Sequence[str]) -> int:
    """`sandbox.py WORKDIR PROGRAM ARGS...`: confine, then exec; never run unconfined."""
    if len(arguments) < 2:
        print("usage: sandbox.py WORKDIR PROGRAM [ARGS...]", file=sys.stderr)
        return 2
    workdir, argv = arguments[0], list(arguments[1:])
    program = _find_program(argv[0])
    if program is None:
        print(f"cannot run {argv[0]}: No such file or directory", file=sys.stderr)
        return 127
    try:
        confine(workdir, _executables(os.path.realpath(program)), landlock_abi())
    except OSError as error:
        print(f"smallagent sandbox: cannot confine {argv[0]}: {error}", file=sys.stderr)
        return 126
    sys.stderr.flush()
    try:
        os.execv(program, argv)
    except OSError as error:
        print(f"cannot run {argv[0]}: {error.strerror}", file=sys.stderr)
    return 126


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
