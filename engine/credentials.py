"""Credentials in URLs: split off before a URL is shown, logged or stored, and given only to the request."""

from __future__ import annotations

import re
from urllib.parse import unquote

MASK = "***"
# scheme://USERINFO@ : the user-info runs to the last "@" before the path, like urlsplit reads it.
_AT_START = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#]*)@")
_ANYWHERE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#\s]*)@")


def _masked(userinfo: str) -> str:
    """`alice:secret` -> `alice:***`; a lone user name may itself be a token, so it is masked whole."""
    user, colon, _ = userinfo.partition(":")
    return f"{user}:{MASK}" if colon and user and user != MASK else MASK


def split_credentials(url: str) -> tuple[str, str | None]:
    """(the URL with its password masked, the user-info it carried); (url, None) when it has none."""
    match = _AT_START.match(url)
    if not match or _masked(match.group(2)) == match.group(2):
        return url, None  # none, or already masked
    return f"{match.group(1)}{_masked(match.group(2))}@{url[match.end():]}", match.group(2)


def redact(text: str) -> str:
    """`text` with the user-info of every URL in it masked (idempotent)."""
    return _ANYWHERE.sub(lambda m: f"{m.group(1)}{_masked(m.group(2))}@", text)


def without_userinfo(url: str) -> str:
    """The URL to send: no user-info at all (the credentials travel as an Authorization header)."""
    return _AT_START.sub(r"\1", url, count=1)


def basic_auth(userinfo: str | None) -> tuple[str, str] | None:
    """(user, password), percent-decoded, for HTTP Basic authentication; None without user-info."""
    if not userinfo:
        return None
    user, _, password = userinfo.partition(":")
    return unquote(user), unquote(password)
