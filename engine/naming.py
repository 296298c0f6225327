"""Safe file names: from Content-Disposition or the URL, sanitised, never outside the folder, never reused."""

from __future__ import annotations

import errno
import os
import re
import unicodedata
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
    if not name:
        return DEFAULT_NAME
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _FORBIDDEN.sub("_", name)
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf"))
    name = name.strip().rstrip(". ").lstrip(".")
    if not name:
        return DEFAULT_NAME
    if name.split(".", 1)[0].upper().rstrip() in _RESERVED:
        name = f"_{name}"
    # Leave room for " (NNN)" and ".part" so every name we derive still fits the limit.
    return _truncate_utf8(name, limit - len(PART_SUFFIX) - 8) or DEFAULT_NAME


def choose_name(content_disposition: str | None, url: str) -> str:
    """The name to save a response under, before making it unique in its folder."""
    return sanitize(disposition_filename(content_disposition) or url_filename(url))


def numbered(name: str, n: int) -> str:
    """`name (n).ext` for n > 0, name itself for 0."""
    if n == 0:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return f"{name} ({n})"
    return f"{stem} ({n}).{ext}"


def inside(folder: Path, name: str) -> Path:
    """`folder/name`, refusing any name that would land outside the folder."""
    if name != os.path.basename(name) or name in ("", ".", ".."):
        raise ValueError(f"unsafe file name {name!r}")
    target = folder / name
    if target.parent != folder:
        raise ValueError(f"unsafe file name {name!r}")
    return target


_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK}
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


def reserve_part(folder: Path, name: str) -> tuple[str, Path]:
    """Create an empty, new `NAME.part` for a name not yet used in the folder; returns (name, part path)."""
    for n in range(10_000):
        candidate = numbered(name, n)
        final = inside(folder, candidate)
        part = inside(folder, candidate + PART_SUFFIX)
        if final.exists() or final.is_symlink():
            continue
        try:
            os.close(os.open(part, _CREATE, 0o644))
        except FileExistsError:
            continue
        return candidate, part
    raise FileExistsError(errno.EEXIST, "no free name left", str(folder / name))


def commit_part(part: Path, folder: Path, name: str) -> Path:
    """Give a complete `.part` its final name without ever replacing an existing file."""
    for n in range(10_000):
        final = inside(folder, numbered(name, n))
        try:
            os.link(part, final, follow_symlinks=False)
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise
            if final.exists() or final.is_symlink():
                continue
            os.rename(part, final)  # no hard links on this file system; Windows' rename never replaces
            return final
        os.unlink(part)
        return final
    raise FileExistsError(errno.EEXIST, "no free name left", str(folder / name))
