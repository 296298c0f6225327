"""Turning pasted text, list files and stdin into URL entries, with a reason for every line refused."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

SUPPORTED_SCHEMES = ("http", "https")
_SEPARATORS = re.compile(r"[\s,]+")
_COMMENT = re.compile(r"(^|\s)#.*$")
_SHA256 = re.compile(r"sha256=([0-9a-fA-F]*)$")


@dataclass(frozen=True)
class UrlEntry:
    """A URL to fetch, with an optional expected SHA-256 and the line it came from."""

    url: str
    sha256: str | None = None
    line: int = 0
    source: str = ""


@dataclass(frozen=True)
class Rejected:
    """A piece of input that is not a URL we can fetch, and why."""

    text: str
    reason: str
    line: int
    source: str = ""

    def __str__(self) -> str:
        where = f"{self.source}:" if self.source else "line "
        return f"{where}{self.line}: {self.text!r}: {self.reason}"


@dataclass
class ParsedInput:
    """The outcome of reading some input: what to fetch, what repeated, what was refused."""

    entries: list[UrlEntry] = field(default_factory=list)
    duplicates: list[UrlEntry] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    def extend(self, other: ParsedInput) -> None:
        """Fold another result into this one, treating repeats across both as duplicates."""
        seen = {e.url for e in self.entries}
        for entry in other.entries:
            if entry.url in seen:
                self.duplicates.append(entry)
            else:
                seen.add(entry.url)
                self.entries.append(entry)
        self.duplicates.extend(other.duplicates)
        self.rejected.extend(other.rejected)

    def summary(self) -> str:
        """One line a person can read: added, duplicates, invalid."""
        parts = [f"{len(self.entries)} added"]
        if self.duplicates:
            parts.append(
                f"{len(self.duplicates)} duplicate{'s' if len(self.duplicates) != 1 else ''} skipped"
            )
        if self.rejected:
            parts.append(f"{len(self.rejected)} invalid")
        return ", ".join(parts)


def check_url(text: str) -> str | None:
    """Why `text` is not a fetchable URL, or None when it is."""
    if any(ord(ch) < 32 or ch == "\x7f" for ch in text):
        return "contains control characters"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        return f"malformed URL ({exc})"
    if not parts.scheme:
        return "not a URL (no scheme such as https://)"
    if parts.scheme.lower() not in SUPPORTED_SCHEMES:
        return f"unsupported scheme '{parts.scheme}:' (only http and https)"
    if not parts.hostname:
        return "no host name"
    if port == 0:
        return "port 0 is not valid"
    return None


def parse_text(text: str, source: str = "") -> ParsedInput:
    """Parse URLs one per line or separated by spaces or commas; `#` starts a comment."""
    result = ParsedInput()
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        tokens = [t for t in _SEPARATORS.split(_COMMENT.sub("", raw).strip()) if t]
        index = 0
        while index < len(tokens):
            token = tokens[index]
            index += 1
            digest: str | None = None
            if index < len(tokens) and tokens[index].lower().startswith("sha256="):
                match = _SHA256.match(tokens[index].lower())
                index += 1
                if not match or len(match.group(1)) != 64:
                    result.rejected.append(
                        Rejected(token, "sha256= must be followed by 64 hexadecimal digits", number, source)
                    )
                    continue
                digest = match.group(1)
            if token.lower().startswith("sha256="):
                result.rejected.append(Rejected(token, "a checksum with no URL before it", number, source))
                continue
            reason = check_url(token)
            if reason:
                result.rejected.append(Rejected(token, reason, number, source))
                continue
            entry = UrlEntry(token, digest, number, source)
            if token in seen:
                result.duplicates.append(entry)
            else:
                seen.add(token)
                result.entries.append(entry)
    return result


def read_sources(urls: Iterable[str] = (), files: Iterable[str] = ()) -> ParsedInput:
    """Gather URLs from the command line and from list files ('-' reads standard input)."""
    result = parse_text("\n".join(urls), "argument")
    for name in files:
        if name == "-":
            result.extend(parse_text(sys.stdin.read(), "stdin"))
            continue
        try:
            text = Path(name).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            result.rejected.append(Rejected(name, f"cannot read list file: {exc.strerror or exc}", 0, name))
            continue
        result.extend(parse_text(text, name))
    return result
