"""Safe file names: from Content-Disposition or the URL, sanitised, never outside the folder, never reused."""

from __future__ import annotations

import errno
import os
import re
import unicodedata
from collections.abc import Container
from pathlib import Path
from urllib.parse import unquote, urlsplit

DEFAULT_NAME = "download"
MAX_NAME_BYTES = 255
PART_SUFFIX = ".part"
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
_RESERVED |= {f"COM{i}" for i in range(10)} | {f"LPT{i}" for i in range(10)}
_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_PARAM = re.compile(r';\s*([A-Za-z0-9!#$&+.^_`|~-]+\*?)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def disposition_filename(header: str | None) -> str | None:
    """The file name a Content-Disposition header asks for: `filename*` first, then `filename`."""
    if not header:
        return None
    params: dict[str, str] = {}
    for key, value in _PARAM.findall(";" + header.split(";", 1)[1] if ";" in header else ""):
        value = value.strip()
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[key.lower()] = value
    extended = params.get("filename*")
    if extended and "'" in extended:
        charset, _, rest = extended.partition("'")
        _, _, encoded = rest.partition("'")
        try:
            return unquote(encoded, encoding=charset or "utf-8", errors="strict")
        except (LookupError, UnicodeDecodeError):
            pass
    plain = params.get("filename")
    if plain:
        # Servers often send UTF-8 bytes in a latin-1 header; undo that when it decodes cleanly.
        try:
            return plain.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return plain
    return None


def url_filename(url: str) -> str:
    """The last path segment of a URL, percent-decoded (may be empty)."""
    path = urlsplit(url).path
    return unquote(path.rsplit("/", 1)[-1], errors="replace")


def _truncate_utf8(name: str, limit: int) -> str:
    """Shorten a name to `limit` UTF-8 bytes, keeping its extension where it is short."""
    if len(name.encode("utf-8")) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext.encode("utf-8")) > 16:
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    budget = limit - len(suffix.encode("utf-8"))
    encoded = stem.encode("utf-8")[:budget]
    return encoded.decode("utf-8", errors="ignore") + suffix


def sanitize(name: str | None, limit: int = MAX_NAME_BYTES) -> str:
    """A base name safe on Linux, macOS and Windows; never empty, '.', '..' or a reserved device."""
    return _sanitized(name, limit) or DEFAULT_NAME


def _sanitized(name: str | None, limit: int = MAX_NAME_BYTES) -> str | None:
    """`sanitize` without the default: None when nothing of the name is left to use."""
    if not name:
        return None
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _FORBIDDEN.sub("_", name)
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf"))
    name = name.strip().rstrip(". ").lstrip(".")
    if not name.strip("_. "):
        return None  # nothing but separators and stand-ins for unsafe characters
    if name.split(".", 1)[0].upper().rstrip() in _RESERVED:
        name = f"_{name}"
    # Leave room for " (NNN)" and ".part" so every name we derive still fits the limit.
    return _truncate_utf8(name, limit - len(PART_SUFFIX) - 8) or None


def choose_name(content_disposition: str | None, url: str) -> str:
    """The name to save a response under, before making it unique in its folder: the server's name when
    anything of it is usable, else the URL's, else a fixed default."""
    return _sanitized(disposition_filename(content_disposition)) or sanitize(url_filename(url))


def numbered(name: str, n: int) -> str:
    """`name (n).ext` for n > 0, name itself for 0."""
    if n == 0:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return f"{name} ({n})"
    return f"{stem} ({n}).{ext}"


def _safe(name: str) -> str:
    """`name`, if it names a file directly inside a folder; else ValueError."""
    if name != os.path.basename(name) or name in ("", ".", ".."):
        raise ValueError(f"unsafe file name {name!r}")
    return name


def inside(folder: Path, name: str) -> Path:
    """`folder/name`, refusing any name that would land outside the folder."""
    target = folder / _safe(name)
    if target.parent != folder:
        raise ValueError(f"unsafe file name {name!r}")
    return target


_NUMBERED = re.compile(r"^(?P<stem>.+) \((?P<n>\d+)\)(?P<ext>\.[^.]*)?$")


def unnumbered(name: str) -> str:
    """`name (3).ext` -> `name.ext`: the name to number afresh when a numbered one is taken."""
    match = _NUMBERED.match(name)
    return f"{match['stem']}{match['ext'] or ''}" if match else name


def free_name(folder: str | os.PathLike[str], wanted: str, held: Container[str]) -> str:
    """The first of `wanted`, `wanted (1)`, … with no file and no `.part` in the folder and not in `held`
    (names other jobs have reserved there and not yet written)."""
    where = os.fspath(folder)
    for n in range(10_000):
        candidate = numbered(wanted, n)
        if candidate in held:
            continue
        final = os.path.join(where, _safe(candidate))  # strings, not Paths: this runs once per file
        if not (os.path.lexists(final) or os.path.lexists(final + PART_SUFFIX)):
            return candidate
    raise FileExistsError(errno.EEXIST, "no free name left", os.path.join(where, wanted))


class NameTaken(Exception):
    """The final name reserved for a file was taken by another file before the file could have it."""


_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK}


def commit_part(part: Path, final: Path) -> None:
    """Give a complete `.part` its reserved final name, never replacing a file that is there.

    Raises NameTaken when another file holds the name. A final name that is already the same file as the
    part (a crash came between the link and the unlink) is finished here.
    """
    try:
        os.link(part, final, follow_symlinks=False)
    except FileExistsError:
        if os.path.islink(final) or not os.path.samefile(part, final):
            raise NameTaken(str(final)) from None
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        if os.path.lexists(final):
            raise NameTaken(str(final)) from None
        os.rename(part, final)  # no hard links on this file system; Windows' rename never replaces
        return
    os.unlink(part)


def sync_folder(folder: str) -> None:
    """Make the names made in a folder durable (POSIX: fsync the folder; elsewhere the OS does it)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
