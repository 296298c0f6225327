"""A server that answers each GET after a delay, on one asyncio loop: a thousand connections waiting cost
it almost nothing, so a benchmark of waiting clients measures the clients. `python -m
benchmarks.latency_server` prints its base URL, serves `/gen/SIZE/NAME?latency=SECONDS` (SIZE bytes
after SECONDS, the test server's shape), keep-alive, and stops when its stdin closes."""

from __future__ import annotations

import asyncio
import sys
from urllib.parse import parse_qs, urlsplit

PAYLOAD_BLOCK = bytes(range(256)) * 256  # 64 KiB repeated to make any size


def body(size: int) -> bytes:
    """The SIZE bytes served for any name."""
    whole, rest = divmod(size, len(PAYLOAD_BLOCK))
    return PAYLOAD_BLOCK * whole + PAYLOAD_BLOCK[:rest]


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, _version = request_line.split(" ", 2)
            fields = (line.partition(":") for line in header_lines if line)
            headers = {name.strip().lower(): value.strip() for name, _, value in fields}
            parts = urlsplit(target)
            _, gen, size_text, *_ = (*parts.path.split("/", 3), "", "", "")
            latency = float(parse_qs(parts.query).get("latency", ["0"])[0])
            if method != "GET" or gen != "gen" or not size_text.isdigit():
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                continue
            await asyncio.sleep(latency)
            data = body(int(size_text))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(data) + data)
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, asyncio.CancelledError, ConnectionError, ValueError):
        pass  # the client went, sent nonsense, or the server is stopping
    finally:
        writer.close()


async def _serve() -> None:
    server = await asyncio.start_server(_answer, "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the benchmark closes our stdin
    server.close()


if __name__ == "__main__":
    asyncio.run(_serve())
