"""What each read-only program may be given: an allowlist of options, parsed as getopt_long does.

A string blocklist cannot keep up with option parsers: GNU programs take `--com` for
`--compress-program`, `-ro/x` for `-r -o /x` and `-f/abs` for `-f /abs`. So each program here
lists the options it may take (short letter, long names, whether and how each takes a value, and
which values are paths). The arguments are parsed the way getopt_long parses them (unique
abbreviations, bundled short options, values glued or in the next word, `--`), anything not on the
list is refused, every path-valued option and operand must resolve (symlinks followed) inside the
working directory, and the command that runs is rebuilt from what was understood: options spelled
in full, then `--`, then the operands. The program therefore sees exactly the options this module
checked, even if it has options this table has never heard of.

>>> canonical("sort", ["-rn", "--k=2", "data.txt"], Path("/w"))
['sort', '--reverse', '--numeric-sort', '--key=2', '--', 'data.txt']
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Takes = Literal["none", "required", "optional"]


class Refusal(Exception):
    """The arguments are not ones the read-only policy runs; the message says why."""


@dataclass(frozen=True)
class Option:
    short: str  # one character, or "" when the option has only long names
    longs: tuple[str, ...]  # long names without the leading "--"; aliases of one option
    takes: Takes = "none"
    path: bool = False  # the value names a file the program reads
    refused: str = ""  # why the option is refused; empty when allowed


@dataclass(frozen=True)
class Program:
    options: tuple[Option, ...]
    operands: Literal["paths", "text", "none", "grep", "date", "echo", "find"] = "paths"
    max_operands: int | None = None
    too_many: str = ""  # the reason when there are more operands than max_operands
    count_first: bool = False  # head/tail: a first `-5` means `--lines=5`
    digits_context: bool = False  # grep: `-3` means `--context=3`
    prefix: tuple[str, ...] = ()  # options always added (diff: never follow symlinks)
    sandbox_free: bool = False  # no option of it writes or runs programs (see MINIMAL)
    short_index: Mapping[str, Option] = field(default_factory=dict, compare=False)


def _options(allowed: str, refused: Mapping[str, str] | None = None) -> tuple[Option, ...]:
    """Options from a compact spec: `n|lines=` is `-n`/`--lines` taking a value.

    `S|long,alias` then a suffix: `=` takes a value, `?` takes an optional one (glued or after
    `=`), `@` marks the value as a path. Either side of `|` may be empty. Different arities for
    the short and long forms are written as two entries (`F|` and `|classify?`).

    >>> _options("n|lines= |random-source=@")[1]
    Option(short='', longs=('random-source',), takes='required', path=True, refused='')
    """
    entries = [(spec, "") for spec in allowed.split()]
    entries += list((refused or {}).items())
    options = []
    for spec, reason in entries:
        short, _, rest = spec.partition("|")
        path = rest.endswith("@")
        rest = rest.rstrip("@")
        takes: Takes = (
            "required" if rest.endswith("=") else "optional" if rest.endswith("?") else "none"
        )
        names = tuple(name for name in rest.rstrip("=?").split(",") if name)
        options.append(Option(short, names, takes, path, reason))
    return tuple(options)


COMMON = "|help |version"
WRITES = "can write a file"
RUNS = "can write or run any program"
NAME_LIST = "reads the names of the files to read from a file, which this policy cannot check"
FOLLOWS = "follows symlinks, which can lead out of the working directory"


def _program(allowed: str, refused: Mapping[str, str] | None = None, **extra: object) -> Program:
    options = _options(f"{allowed} {COMMON}", refused)
    index = {option.short: option for option in options if option.short}
    return Program(options=options, short_index=index, **extra)  # type: ignore[arg-type]


LS = _program(
    "a|all A|almost-all |author b|escape |block-size= B|ignore-backups c| C| |color? d|directory "
    "D|dired f| F| |classify? |file-type |format= |full-time g| |group-directories-first "
    "G|no-group h|human-readable |si H|dereference-command-line "
    "|dereference-command-line-symlink-to-dir |hide= |hyperlink? |indicator-style= i|inode "
    "I|ignore= k|kibibytes l| m| n|numeric-uid-gid N|literal o| p| q|hide-control-chars "
    "|show-control-chars Q|quote-name |quoting-style= r|reverse R|recursive s|size S| |sort= "
    "t| |time= |time-style= T|tabsize= u| U| v| w|width= x| X| Z|context |zero 1|",
    {"L|dereference": FOLLOWS},
    sandbox_free=True,
)
GREP = _program(
    "A|after-context= B|before-context= C|context= D|devices= E|extended-regexp "
    "F|fixed-strings G|basic-regexp H|with-filename I| P|perl-regexp T|initial-tab U|binary "
    "V| a|text |binary-files= b|byte-offset c|count |color? |colour? d|directories= "
    "e|regexp= f|file=@ h|no-filename i|ignore-case y| |no-ignore-case "
    "L|files-without-match l|files-with-matches m|max-count= n|line-number o|only-matching "
    "q|quiet,silent r|recursive s|no-messages v|invert-match w|word-regexp x|line-regexp "
    "Z|null z|null-data |exclude= |exclude-from=@ |exclude-dir= |include= |label= "
    "|line-buffered |group-separator= |no-group-separator",
    {"R|dereference-recursive": FOLLOWS + " (use -r)"},
    operands="grep",
    digits_context=True,
    sandbox_free=True,
)
DIGEST = _program(
    "b|binary t|text z|zero |tag |ignore-missing |quiet |status |strict w|warn",
    {"c|check": NAME_LIST},
    sandbox_free=True,
)

PROGRAMS: dict[str, Program] = {
    "ls": LS,
    "cat": _program(
        "A|show-all b|number-nonblank e| E|show-ends n|number s|squeeze-blank t| T|show-tabs u| "
        "v|show-nonprinting",
        sandbox_free=True,
    ),
    "head": _program(
        "c|bytes= n|lines= q|quiet,silent v|verbose z|zero-terminated",
        count_first=True,
        sandbox_free=True,
    ),
    "tail": _program(
        "c|bytes= n|lines= q|quiet,silent v|verbose z|zero-terminated s|sleep-interval= "
        "|max-unchanged-stats= |pid= |retry",
        {
            "f|follow?": "waits for the file to grow until the timeout",
            "F|": "waits until the timeout",
        },
        count_first=True,
        sandbox_free=True,
    ),
    "wc": _program(
        "c|bytes l|lines L|max-line-length m|chars w|words",
        {"|files0-from=": NAME_LIST},
        sandbox_free=True,
    ),
    "grep": GREP,
    "egrep": GREP,  # run as grep -E and grep -F: these scripts exec grep, which the sandbox forbids
    "fgrep": GREP,
    "find": Program(options=(), operands="find"),
    "stat": _program(
        "c|format= f|file-system L|dereference t|terse |printf= |cached=", sandbox_free=True
    ),
    "du": _program(
        "0|null a|all |apparent-size B|block-size= b|bytes c|total d|max-depth= "
        "D|dereference-args H| h|human-readable |inodes k| l|count-links m| P|no-dereference "
        "S|separate-dirs |si s|summarize t|threshold= |time? |time-style= x|one-file-system "
        "X|exclude-from=@ |exclude=",
        {"L|dereference": FOLLOWS, "|files0-from=": NAME_LIST},
        sandbox_free=True,
    ),
    "file": _program(
        "b|brief e|exclude= |exclude-quiet= E| F|separator= h|no-dereference i|mime |mime-type "
        "|mime-encoding |apple |extension k|keep-going L|dereference N|no-pad n|no-buffer r|raw "
        "0|print0 P|parameter= v|",
        {
            "C|compile": WRITES,
            "m|magic-file=": "reads a file of the caller's choosing and prints its lines",
            "f|files-from=": NAME_LIST,
            "p|preserve-date": "changes the times of the files it reads",
            "s|special-files": "reads devices",
            "S|no-sandbox": "turns off file's own sandbox",
            "z|uncompress": "runs decompressors",
            "Z|uncompress-noreport": "runs decompressors",
        },
    ),
    "sort": _program(
        "b|ignore-leading-blanks c| |check? C| d|dictionary-order f|ignore-case "
        "g|general-numeric-sort h|human-numeric-sort i|ignore-nonprinting k|key= m|merge "
        "M|month-sort n|numeric-sort r|reverse R|random-sort |random-source=@ s|stable "
        "S|buffer-size= |sort= t|field-separator= u|unique V|version-sort z|zero-terminated "
        "|parallel= |batch-size= |debug",
        {
            "o|output=": WRITES,
            "T|temporary-directory=": WRITES,
            "|compress-program=": RUNS,
            "|files0-from=": NAME_LIST,
        },
    ),
    "uniq": _program(
        "c|count d|repeated D| |all-repeated? |group? f|skip-fields= i|ignore-case s|skip-chars= "
        "u|unique w|check-chars= z|zero-terminated",
        max_operands=1,
        too_many="`uniq INPUT OUTPUT` writes a file",
    ),
    "cut": _program(
        "b|bytes= c|characters= d|delimiter= f|fields= n| |complement s|only-delimited "
        "|output-delimiter= z|zero-terminated",
        sandbox_free=True,
    ),
    "tr": _program(
        "c|complement C| d|delete s|squeeze-repeats t|truncate-set1",
        operands="text",
        sandbox_free=True,
    ),
    "nl": _program(
        "b|body-numbering= d|section-delimiter= f|footer-numbering= h|header-numbering= "
        "i|line-increment= l|join-blank-lines= n|number-format= p|no-renumber "
        "s|number-separator= v|starting-line-number= w|number-width=",
        sandbox_free=True,
    ),
    "pwd": _program("L|logical P|physical", operands="none", sandbox_free=True),
    "echo": Program(options=(), operands="echo", sandbox_free=True),
    "basename": _program("a|multiple s|suffix= z|zero", operands="text", sandbox_free=True),
    "dirname": _program("z|zero", operands="text", sandbox_free=True),
    "realpath": _program(
        "e|canonicalize-existing m|canonicalize-missing L|logical P|physical q|quiet "
        "|relative-to=@ |relative-base=@ s|strip,no-symlinks z|zero",
        sandbox_free=True,
    ),
    "md5sum": DIGEST,
    "sha256sum": DIGEST,
    "diff": _program(
        "a|text b|ignore-space-change B|ignore-blank-lines c| C|= |context? d|minimal D|ifdef= "
        "e|ed E|ignore-tab-expansion f| F|show-function-line= |from-file=@ |to-file=@ "
        "|horizon-lines= i|ignore-case I|ignore-matching-lines= |ignore-file-name-case "
        "|no-ignore-file-name-case L|label= |left-column |line-format= n|rcs |normal "
        "p|show-c-function q|brief s|report-identical-files |speed-large-files "
        "|strip-trailing-cr |suppress-blank-empty |suppress-common-lines t|expand-tabs "
        "T|initial-tab |tabsize= u| U|= |unified? w|ignore-all-space W|width= x|exclude= "
        "X|exclude-from=@ y|side-by-side Z|ignore-trailing-space |color? |palette= "
        "|no-dereference v|",
        {"l|paginate": "runs pr", "r|recursive": FOLLOWS},
        prefix=("--no-dereference",),  # a directory operand's entries may be symlinks
    ),
    "cmp": _program(
        "b|print-bytes i|ignore-initial= l|verbose n|bytes= s|quiet,silent v|",
        sandbox_free=True,
    ),
    "comm": _program(
        "1| 2| 3| |check-order |nocheck-order |output-delimiter= |total z|zero-terminated",
        sandbox_free=True,
    ),
    "date": _program(
        "d|date= I|iso-8601? R|rfc-email |rfc-3339= |debug |resolution u|utc,universal "
        "r|reference=@",
        {"s|set=": "sets the system clock", "f|file=": "reads a file and prints its lines"},
        operands="date",
        max_operands=1,
    ),
    "whoami": _program("", operands="none", sandbox_free=True),
    "uname": _program(
        "a|all s|kernel-name n|nodename r|kernel-release v|kernel-version m|machine "
        "p|processor i|hardware-platform o|operating-system",
        operands="none",
        sandbox_free=True,
    ),
    "df": _program(
        "a|all B|block-size= i|inodes h|human-readable H|si k| l|local |output? P|portability "
        "|total t|type= T|print-type x|exclude-type= |no-sync",
        sandbox_free=True,
    ),
}
ALIASES = {"egrep": ("grep", "--extended-regexp"), "fgrep": ("grep", "--fixed-strings")}

# The programs that may run without the kernel sandbox where Landlock is missing: none of their
# options writes a file or runs a program, so the allowlist alone keeps them read-only.
MINIMAL = frozenset(name for name, program in PROGRAMS.items() if program.sandbox_free)


# --- find: an expression, not getopt ---------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


FIND_NO_VALUE = _words(
    "( ) ! , -not -a -and -o -or -depth -d -ignore_readdir_race -noignore_readdir_race -mount "
    "-xdev -noleaf -daystart -warn -nowarn -empty -executable -false -true -nogroup -nouser "
    "-readable -writable -print -print0 -ls -prune -quit"
)
FIND_TEXT_VALUE = _words(
    "-maxdepth -mindepth -regextype -amin -atime -cmin -ctime -mmin -mtime -used -fstype -gid "
    "-uid -group -user -inum -links -size -type -xtype -perm -name -iname -path -ipath "
    "-wholename -iwholename -regex -iregex -lname -ilname -printf -context"
)
FIND_PATH_VALUE = _words("-anewer -cnewer -newer -samefile")
FIND_REFUSED = {
    **dict.fromkeys(("-exec", "-execdir", "-ok", "-okdir"), RUNS),
    "-delete": "can write (it deletes files)",
    **dict.fromkeys(("-fprint", "-fprint0", "-fprintf", "-fls"), WRITES),
    **dict.fromkeys(("-L", "-follow"), FOLLOWS),
    "-files0-from": NAME_LIST,
}


def _find(arguments: list[str], workdir: Path) -> list[str]:
    """find's own grammar: -H/-P, starting points, then an expression of known primaries."""
    index = 0
    while index < len(arguments) and arguments[index] in ("-H", "-P", "-L"):
        if arguments[index] == "-L":
            raise Refusal(f"`find -L` {FOLLOWS}")
        index += 1
    while index < len(arguments) and not (
        arguments[index].startswith("-") or arguments[index] in ("(", ")", "!", ",")
    ):
        confine(arguments[index], workdir)
        index += 1
    while index < len(arguments):
        token = arguments[index]
        newer = re.fullmatch(r"-newer([aBcm])([aBcmt])", token)
        if token in FIND_REFUSED:
            raise Refusal(f"`find {token}` {FIND_REFUSED[token]}")
        if token in FIND_NO_VALUE:
            index += 1
            continue
        if not (token in FIND_TEXT_VALUE or token in FIND_PATH_VALUE or newer):
            raise Refusal(f"`find {token}` is not on the read-only allowlist for find")
        if index + 1 >= len(arguments):
            raise Refusal(f"`find {token}` needs a value")
        if token in FIND_PATH_VALUE or (newer and newer.group(2) != "t"):
            confine(arguments[index + 1], workdir)
        index += 2
    return arguments


# --- getopt_long ------------------------------------------------------------------------------


def confine(value: str, workdir: Path) -> None:
    """Refuse a path that resolves (symlinks followed) outside the working directory.

    `~` is refused as the user's home even though no shell expands it here: that is what the
    model meant. `workdir` must already be resolved.
    """
    target = Path(os.path.expanduser(value) if value.startswith("~") else value)
    resolved = (target if target.is_absolute() else workdir / target).resolve()
    if not resolved.is_relative_to(workdir):
        raise Refusal(f"`{value}` is outside the working directory {workdir}")


def _long_option(program: Program, name: str, written: str, command: str) -> tuple[Option, str]:
    """The option a `--name` means, and its full name: exact, else a unique abbreviation."""
    exact = [option for option in program.options if name in option.longs]
    if exact:
        return exact[0], name
    matches = {
        (long, option)
        for option in program.options
        for long in option.longs
        if name and long.startswith(name)
    }
    distinct = {option for _, option in matches}
    if not distinct:
        raise Refusal(f"`{command} {written}` is not on the read-only allowlist for {command}")
    if len(distinct) > 1:
        names = ", ".join(sorted(f"--{long}" for long, _ in matches))
        raise Refusal(f"`{command} {written}` is ambiguous ({names})")
    option = distinct.pop()
    return option, min(long for long, candidate in matches if candidate is option)


def _refuse_if_refused(option: Option, written: str, command: str) -> None:
    if option.refused:
        full = f"--{option.longs[0]}" if option.longs else ""
        meant = f" (that is {full})" if written.startswith("--") and written != full else ""
        raise Refusal(f"`{command} {written}`{meant} {option.refused}")


def _spelled(option: Option, long: str, value: str | None) -> list[str]:
    """The option as the program will see it: long names in full, values in the same word."""
    if long:
        return [f"--{long}" if value is None else f"--{long}={value}"]
    if value is None:
        return [f"-{option.short}"]
    if option.takes == "optional":
        return [f"-{option.short}{value}"]
    return [f"-{option.short}", value]


def parse(program: Program, command: str, arguments: list[str], workdir: Path) -> list[str]:
    """The checked, rebuilt argument list; Refusal when an option or path is not allowed."""
    spelled: list[str] = list(program.prefix)
    values: list[tuple[Option, str]] = []
    operands: list[str] = []
    index = 0
    while index < len(arguments):
        argument = arguments[index]
        index += 1
        if argument == "--":
            operands.extend(arguments[index:])
            break
        if argument.startswith("--"):
            name, equals, glued = argument[2:].partition("=")
            written = argument if not equals else f"--{name}"
            option, long = _long_option(program, name, written, command)
            _refuse_if_refused(option, written, command)
            value: str | None = glued if equals else None
            if option.takes == "none" and equals:
                raise Refusal(f"`{command} --{long}` takes no value")
            if option.takes == "required" and not equals:
                if index >= len(arguments):
                    raise Refusal(f"`{command} --{long}` needs a value")
                value, index = arguments[index], index + 1
            spelled += _spelled(option, long, value)
            if value is not None:
                values.append((option, value))
            continue
        if not argument.startswith("-") or argument == "-":
            operands.append(argument)
            continue
        if program.count_first and index == 1 and re.fullmatch(r"-\d+", argument):
            spelled.append(f"--lines={argument[1:]}")
            continue
        position = 1
        while position < len(argument):
            letter = argument[position]
            if program.digits_context and letter.isdigit():
                digits = re.match(r"\d+", argument[position:])
                assert digits is not None
                spelled.append(f"--context={digits.group(0)}")
                position += len(digits.group(0))
                continue
            short = program.short_index.get(letter)
            if short is None:
                raise Refusal(
                    f"`{command} -{letter}` is not on the read-only allowlist for {command}"
                )
            _refuse_if_refused(short, f"-{letter}", command)
            rest = argument[position + 1 :]
            long = short.longs[0] if short.longs else ""
            if short.takes == "none":
                spelled += _spelled(short, long, None)
                position += 1
                continue
            if short.takes == "optional":
                value = rest or None  # an optional value is only ever glued
            elif rest:
                value = rest
            elif index < len(arguments):
                value, index = arguments[index], index + 1
            else:
                raise Refusal(f"`{command} -{letter}` needs a value")
            spelled += _spelled(short, long, value)
            if value is not None:
                values.append((short, value))
            break
    for option, value in values:
        if option.path:
            confine(value, workdir)
    _check_operands(program, command, spelled, operands, workdir)
    return spelled + (["--", *operands] if operands else [])


def _check_operands(
    program: Program, command: str, spelled: list[str], operands: list[str], workdir: Path
) -> None:
    if program.max_operands is not None and len(operands) > program.max_operands:
        raise Refusal(
            program.too_many or f"`{command}` takes at most {program.max_operands} operand(s)"
        )
    kind = program.operands
    if kind == "none" and operands:
        raise Refusal(f"`{command}` takes no operands")
    if kind == "date":
        for operand in operands:
            if not operand.startswith("+"):
                raise Refusal(
                    f"`{command} {operand}` sets the system clock; only +FORMAT is allowed"
                )
        return
    paths = operands
    if kind == "grep":
        patterns_given = any(
            word.startswith(("--regexp=", "--file=")) or word in ("-e", "-f") for word in spelled
        )
        paths = operands if patterns_given else operands[1:]
    if kind in ("paths", "grep"):
        for operand in paths:
            confine(operand, workdir)


def canonical(command: str, arguments: list[str], workdir: Path) -> list[str]:
    """The argv that runs for `command arguments`, checked; Refusal when it is not allowed."""
    program = PROGRAMS[command]
    if program.operands == "echo":
        return [command, *arguments]  # echo takes no options but -n/-e/-E and reads nothing
    if program.operands == "find":
        return [command, *_find(arguments, workdir)]
    name, *implied = ALIASES.get(command, (command,))
    return [name, *implied, *parse(program, command, arguments, workdir)]
