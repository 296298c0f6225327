"""Pytest fixtures around the test HTTP server; import them from a conftest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.http_server import TestServer


@pytest.fixture
def http_server() -> Iterator[TestServer]:
    """A started TestServer on 127.0.0.1, stopped after the test."""
    with TestServer() as server:
        yield server
