"""Turning pasted text, list files and stdin into URL entries, with a reason for every line refused."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from engine.credentials import redact, split_credentials

SUPPORTED_SCHEMES = ("http", "https")
# Whitespace separates URLs; a comma only where a space, a scheme or the end of the line follows it, so a
# comma inside a URL (`/f/a,b.bin`) stays part of it.
_SEPARATORS = re.compile(r"\s+|,(?=\s|[A-Za-z][A-Za-z0-9+.\-]*://|$)")
_COMMENT = re.compile(r"(^|\s)#.*$")
_SHA256 = re.compile(r"sha256=([0-9a-fA-F]*)$")


@dataclass(frozen=True)
class UrlEntry:
    """A URL to fetch, with an optional expected SHA-256 and the line it came from.

    `url` has any password masked (`http://alice:***@host/…`): it is what is shown, logged and stored.
    The user-info itself is in `credentials`, which no repr or comparison shows.
    """

    url: str
    sha256: str | None = None
    line: int = 0
    source: str = ""
    credentials: str | None = field(default=None, repr=False, compare=False)


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
        _take(tokens, number, source, result, seen)
    return result


def parse_arguments(arguments: Iterable[str]) -> ParsedInput:
    """Command-line arguments: each one is a single URL (commas and spaces included), optionally followed
    by a `sha256=HEX` argument; the line number is the argument's position."""
    result = ParsedInput()
    seen: set[str] = set()
    for number, argument in enumerate(arguments, start=1):
        follows_url = bool(result.entries) and result.entries[-1].line == number - 1
        if argument.lower().startswith("sha256=") and follows_url:
            _attach_digest(argument, number, "argument", result)
            continue
        _take([argument.strip()], number, "argument", result, seen)
    return result


def _attach_digest(token: str, number: int, source: str, result: ParsedInput) -> None:
    """A `sha256=` argument after a URL argument: give the URL its checksum, or refuse both."""
    entry = result.entries.pop()
    digest = _digest(token)
    if digest is None:
        result.rejected.append(Rejected(entry.url, _BAD_DIGEST, entry.line, source))
        return
    result.entries.append(UrlEntry(entry.url, digest, entry.line, source, entry.credentials))


_BAD_DIGEST = "sha256= must be followed by 64 hexadecimal digits"


def _digest(token: str) -> str | None:
    match = _SHA256.match(token.lower())
    return match.group(1) if match and len(match.group(1)) == 64 else None


def _take(tokens: list[str], number: int, source: str, result: ParsedInput, seen: set[str]) -> None:
    """Turn one line's tokens into entries, refusals and duplicates (a `sha256=` token follows its URL)."""
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        shown, credentials = split_credentials(token)
        digest: str | None = None
        if index < len(tokens) and tokens[index].lower().startswith("sha256="):
            digest = _digest(tokens[index])
            index += 1
            if digest is None:
                result.rejected.append(Rejected(redact(shown), _BAD_DIGEST, number, source))
                continue
        if token.lower().startswith("sha256="):
            result.rejected.append(Rejected(token, "a checksum with no URL before it", number, source))
            continue
        reason = check_url(token)
        if reason:
            result.rejected.append(Rejected(redact(shown), reason, number, source))
            continue
        entry = UrlEntry(shown, digest, number, source, credentials)
        if shown in seen:
            result.duplicates.append(entry)
        else:
            seen.add(shown)
            result.entries.append(entry)


def read_sources(urls: Iterable[str] = (), files: Iterable[str] = ()) -> ParsedInput:
    """Gather URLs from the command line and from list files ('-' reads standard input)."""
    result = parse_arguments(urls)
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
