"""HTTP for one worker: a deadline on every response head, redirects followed by hand, each job's cookies
kept to the origin that set them, credentials only for their own host, and errors in words."""

from __future__ import annotations

import email.utils
import os
import time
import urllib.request
from collections.abc import Mapping
from http import HTTPStatus
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar, extract_cookies_to_jar
from requests.structures import CaseInsensitiveDict
from requests.utils import get_netrc_auth, requote_uri
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from engine.deadlines import DEADLINES
from engine.errors import TransferError, permanent, retryable

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0  # the longest silence, in the head or the body
HEAD_DEADLINE = 60.0  # the status line and headers must all have arrived this long after the request
MAX_REDIRECTS = 10
USER_AGENT = "Parafetch/0.1"
SUPPORTED_SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class _HeadDeadline:
    """Mixin for urllib3 connections: the socket is shut down if the response head is not in by then."""

    sock: Any

    def getresponse(self) -> Any:
        guard = DEADLINES.arm(self.sock, HEAD_DEADLINE)
        try:
            response = super().getresponse()  # type: ignore[misc]
        finally:
            fired = DEADLINES.disarm(guard)
        if fired:  # the head was cut short: whatever http.client made of it is not a response
            response.close()
            raise TimeoutError("response head deadline passed")
        return response


class _HTTPConnection(_HeadDeadline, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_HeadDeadline, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _Adapter(HTTPAdapter):
    """requests' adapter with connections that bound the response head."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


class _WorkerSession(requests.Session):
    """A requests.Session that reads the proxy and CA-bundle variables once per origin, not per request
    (requests re-reads and re-parses the environment on each one: about 0.3 ms per file)."""

    def __init__(self) -> None:
        super().__init__()
        self._settings: dict[tuple[object, ...], Any] = {}
        self._netrc: dict[tuple[str, str, int], tuple[str, str] | None] = {}

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> Any:
        key = (_origin(url), tuple(sorted((proxies or {}).items())), stream, verify, cert)
        settings = self._settings.get(key)
        if settings is None:
            settings = self._settings[key] = super().merge_environment_settings(url, proxies, stream,
                                                                                verify, cert)
        return {**settings, "proxies": dict(settings["proxies"])}

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        """requests' preparation without the merging a worker's session never needs (it holds no cookies,
        parameters, hooks or credentials of its own: each job brings its own), and with a .netrc read once
        per origin (about 0.1 ms per file)."""
        auth = request.auth
        if auth is None and self.trust_env:
            origin = _origin(request.url)
            if origin not in self._netrc:
                self._netrc[origin] = get_netrc_auth(request.url)
            auth = self._netrc[origin]
        headers = CaseInsensitiveDict(self.headers)
        headers.update(request.headers)
        prepared = requests.PreparedRequest()
        prepared.prepare(method=request.method.upper(), url=request.url, headers=headers, auth=auth,
                         cookies=request.cookies, hooks=request.hooks)
        return prepared


def new_http_session() -> requests.Session:
    """An HTTP session for one worker: identity encoding, keep-alive, no cookies of its own."""
    http = _WorkerSession()
    for prefix in ("http://", "https://"):
        http.mount(prefix, _Adapter())
    http.headers.update({"Accept-Encoding": "identity", "User-Agent": USER_AGENT})
    http.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # jobs keep their own (JobCookies)
    http.trust_env = environment_has_http_settings()
    return http


def environment_has_http_settings() -> bool:
    """True when proxy or CA-bundle variables or a .netrc file are there for requests to honour.

    requests re-reads them on every request when `trust_env` is set, which costs about 1 ms per file on
    a list of small files; with nothing to read, that time is saved.
    """
    if urllib.request.getproxies_environment():
        return True
    if any(os.environ.get(name) for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC")):
        return True
    home = Path.home()
    return any((home / name).exists() for name in (".netrc", "_netrc"))


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme, 0)


class JobCookies:
    """One job's cookies, each kept for the exact origin (scheme, host, port) that set it.

    A cookie never reaches another job, another port of the same host, or plain http after https.
    """

    def __init__(self) -> None:
        self._jars: dict[tuple[str, str, int], RequestsCookieJar] = {}

    def for_url(self, url: str) -> RequestsCookieJar:
        return self._jars.get(_origin(url)) or RequestsCookieJar()

    def learn(self, response: requests.Response) -> None:
        if "set-cookie" not in response.headers:
            return
        jar = self._jars.setdefault(_origin(response.url), RequestsCookieJar())
        extract_cookies_to_jar(jar, response.request, response.raw)


def _keeps_credentials(before: str, after: str) -> bool:
    """Credentials follow a redirect only to the same host, on the same origin or an upgrade to https."""
    old, new = _origin(before), _origin(after)
    if old == new:
        return True
    upgrade = old[0] == "http" and new[0] == "https" and new[2] == 443 and old[2] == 80
    return old[1] == new[1] and upgrade


def open_url(
    http: requests.Session,
    url: str,
    auth: tuple[str, str] | None,
    cookies: JobCookies,
    headers: Mapping[str, str],
) -> requests.Response:
    """GET `url` as a stream, following up to MAX_REDIRECTS redirects (http and https only)."""
    for _ in range(MAX_REDIRECTS + 1):
        response = _get(http, url, auth, cookies.for_url(url), headers)
        cookies.learn(response)
        if not response.is_redirect:
            return response
        location = response.headers["Location"]
        response.close()
        target = requote_uri(urljoin(url, location))
        if urlsplit(target).scheme.lower() not in SUPPORTED_SCHEMES:
            raise permanent("redirected to an unsupported scheme (only http and https are followed)")
        if auth is not None and not _keeps_credentials(url, target):
            auth = None
        url = target
    raise permanent(f"more than {MAX_REDIRECTS} redirects")


def _get(
    http: requests.Session,
    url: str,
    auth: tuple[str, str] | None,
    cookies: RequestsCookieJar,
    headers: Mapping[str, str],
) -> requests.Response:
    began = time.monotonic()
    try:
        return http.get(
            url,
            headers=dict(headers),
            auth=auth,
            cookies=cookies,
            stream=True,
            allow_redirects=False,
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
        )
    except requests.exceptions.RequestException as exc:
        raise request_error(exc, url, time.monotonic() - began) from exc


def request_error(exc: Exception, url: str, waited: float = 0.0) -> TransferError:
    """Translate what requests raises before a response into a kind and a sentence."""
    host = urllib3.util.parse_url(url).host
    if isinstance(exc, requests.exceptions.InvalidSchema):
        return permanent("redirected to an unsupported scheme (only http and https are followed)")
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return permanent(f"malformed URL: {exc}")
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return retryable(f"timed out connecting to {host}")
    timed_out = isinstance(exc, requests.exceptions.ReadTimeout | requests.exceptions.ConnectionError)
    if timed_out and waited >= HEAD_DEADLINE:
        return retryable(f"server did not send its response headers within {HEAD_DEADLINE:.0f} s")
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return retryable(f"server did not answer within {READ_TIMEOUT:.0f} s")
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc).lower()
        if "more than 100 headers" in text or "line too long" in text or "linetoolong" in text:
            return permanent("server sent an oversized header block (refused)")
        if "refused" in text:
            return retryable(f"connection refused by {host}")
        if "resolve" in text or "name or service" in text:
            return retryable(f"could not find host {host}")
        return retryable("connection failed or was reset")
    return retryable(f"network error: {exc}")


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def status_error(response: requests.Response) -> TransferError:
    """An HTTP error status as a kind (5xx and 429 may pass) and the status in words."""
    code = response.status_code
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = response.reason or "error"
    message = f"server answered HTTP {code} {phrase}"
    if code == 429 or code >= 500:
        return retryable(message, retry_after_seconds(response.headers.get("Retry-After")))
    return permanent(message)


def validator(response: requests.Response) -> str | None:
    """What identifies this version of the file: a strong ETag, else Last-Modified."""
    etag = response.headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    return response.headers.get("Last-Modified")
