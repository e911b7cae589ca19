"""Opening the files a spec names, treating each as hostile.

Every file accelsim reads as input goes through `read_text`: regular files only (no devices,
FIFOs or sockets; opened non-blocking so a FIFO cannot hang), at most `MAX_FILE_BYTES`,
strict UTF-8, and no NUL or other control characters. `resolve_inside` confines the files a
spec pulls in (`extends:`) to the spec's own folder tree and the paths the user allowed
(`--allow-path`, or `allow_paths()` from Python). Every refusal is a SpecError with the file
and line, what was found and what is allowed.
"""
from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import re
import stat
from pathlib import Path

from ..errors import Problem, SpecError

MAX_FILE_BYTES = 16 * 1024 * 1024

_ALLOWED = contextvars.ContextVar("accelsim_allowed_paths", default=())

# The characters YAML allows in a stream (YAML 1.1 §5.1, as PyYAML's reader checks them).
_NOT_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")
_KIND_NAMES = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
               (stat.S_ISSOCK, "a socket"))


@contextlib.contextmanager
def allow_paths(paths):
    """Let `extends:` reach these files or folders too, besides the spec's own folder tree."""
    real = tuple(os.path.realpath(os.fspath(p)) for p in paths)
    token = _ALLOWED.set(_ALLOWED.get() + real)
    try:
        yield
    finally:
        _ALLOWED.reset(token)


def allowed_paths() -> tuple[str, ...]:
    """The paths the user allowed besides each spec's folder tree (allow_paths), for work handed to
    other processes (a sweep's workers)."""
    return _ALLOWED.get()


def allowed_roots(spec_path) -> tuple[str, ...]:
    """Where files a spec pulls in may live: its folder tree, and the paths the user allowed."""
    return (os.path.realpath(os.fspath(Path(spec_path).parent)),) + _ALLOWED.get()


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def resolve_inside(path, roots: tuple[str, ...], file: str | None, line: int | None, key_path: str,
                   written: str) -> Path:
    """The real path of `path` if it lies under one of `roots`; else a SpecError at file:line."""
    try:
        real = os.path.realpath(os.fspath(path))
    except ValueError:  # an embedded NUL, written as "\0" in a quoted YAML string
        raise SpecError(Problem(f"the path {short(written)!r} contains a NUL character", file, line,
                                key_path, allowed=("a relative path to a YAML file",))) from None
    if not any(_inside(real, root) for root in roots):
        raise SpecError(Problem(
            f"{short(written)!r} resolves to {real}, outside the folders this spec may read",
            file, line, key_path, allowed=roots,
            suggestion="move the file into the spec's folder tree, or allow its folder with "
                       "--allow-path DIR (accelsim.spec.files.allow_paths from Python)"))
    return Path(real)


def short(text, limit: int = 80) -> str:
    """`text` cut to `limit` characters, saying how much was left out."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}…({len(text) - limit} more characters)"


def open_regular(path, file_for_errors: str | None = None, line: int | None = None,
                 key_path: str = "") -> int:
    """A read-only descriptor of a regular file; anything else (device, FIFO, loop) is a SpecError."""
    where = file_for_errors or str(path)

    def refuse(message, suggestion=None):
        return SpecError(Problem(message, where, line, key_path, suggestion=suggestion))
    try:
        fd = os.open(os.fspath(path), os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except ValueError:
        raise refuse(f"the path {short(path)!r} contains a NUL character") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise refuse(f"cannot read {short(path)}: a symlink loop (too many levels of symbolic links)",
                         "point the link at a real file") from None
        raise refuse(f"cannot read file {short(path)}: {exc.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        kind = next((name for test, name in _KIND_NAMES if test(info.st_mode)), "not a regular file")
        raise refuse(f"cannot read {short(path)}: it is {kind}; only regular files are read",
                     "give the path of a YAML file")
    return fd


def read_bytes(path, limit: int = MAX_FILE_BYTES, file_for_errors: str | None = None,
               line: int | None = None, key_path: str = "") -> bytes:
    """The bytes of a regular file of at most `limit` bytes."""
    fd = open_regular(path, file_for_errors, line, key_path)
    try:
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise SpecError(Problem(f"cannot read file: {exc.strerror}", str(path), line, key_path)) from None
    finally:
        os.close(fd)
    if size > limit:
        raise SpecError(Problem(f"the file is larger than {limit // (1024 * 1024)} MiB", str(path), None,
                                allowed=(f"files up to {limit:,} bytes",)))
    return b"".join(chunks)


def decode(data: bytes, file: str | None) -> str:
    """Strict UTF-8 (a leading byte-order mark is dropped), and only characters YAML allows."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = data[exc.start:exc.end].hex(" ")
        raise SpecError(Problem(f"invalid UTF-8 at column {column} (byte offset {exc.start}: {bad}): "
                                f"{exc.reason}", file, line, allowed=("UTF-8 text",),
                                suggestion="save the file as UTF-8")) from None
    text = text.removeprefix("\ufeff")
    check_characters(text, file)
    return text


def check_characters(text: str, file: str | None, line_offset: int = 0) -> None:
    """Refuse NUL bytes and control characters other than tab, newline and carriage return."""
    m = _NOT_PRINTABLE.search(text)
    if m is None:
        return
    line = text.count("\n", 0, m.start()) + 1 + line_offset
    column = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
    code = ord(m.group())
    name = "a NUL byte" if code == 0 else f"the control character U+{code:04X}" if code < 0xA0 \
        else f"the character U+{code:04X}, which YAML does not allow"
    raise SpecError(Problem(f"{name} at column {column}", file, line,
                            allowed=("printable characters, tab, newline, carriage return",),
                            suggestion="remove it (write it as an escape such as \"\\t\" inside a "
                                       "double-quoted string if it is meant)"))


def read_text(path, line: int | None = None, key_path: str = "", limit: int = MAX_FILE_BYTES,
              file_for_errors: str | None = None) -> str:
    """A regular file's text, checked: size, UTF-8, characters."""
    return decode(read_bytes(path, limit, file_for_errors, line, key_path), str(path))
