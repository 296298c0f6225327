"""The two Compare tables in the README: `main.py compare` over a latency-bound and a large-file list.

    .venv/bin/python -m benchmarks.compare_lists [--small N] [--large N] [--large-mib M]

Starts benchmarks/latency_server.py (every answer 100 ms late) and nginx (plain files), writes a list for
each, and runs `python main.py compare -i LIST --pipeline` on it, printing what Parafetch prints, then
checks the ranking on the latency-bound list (exit status 1 when a concurrent mode was not faster than
sequential, or no thread mode was recommended).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.servers import ROOT, LatencyServer, Nginx, write_big_file

SMALL_BYTES = 16 * 1024
LATENCY = 0.1


def compare(urls: list[str], folder: Path, title: str) -> dict[str, Any]:
    """Run `main.py compare` on a list; its table goes to the terminal, its JSON report is returned."""
    listing = folder / f"{title}.txt"
    listing.write_text("".join(f"{url}\n" for url in urls), encoding="utf-8")
    scratch = folder / f"{title}-scratch"
    scratch.mkdir()
    command = [
        sys.executable,
        "main.py",
        "compare",
        "-i",
        str(listing),
        "--pipeline",
        "--json",  # the table goes to the terminal (stderr), the report to us
        "--scratch",
        str(scratch),
    ]
    print(
        f"### {title}: {len(urls)} URLs\n\n    python main.py compare -i {listing.name} --pipeline\n",
        flush=True,
    )
    result = subprocess.run(command, cwd=ROOT, check=False, stdout=subprocess.PIPE, text=True)
    print(flush=True)
    return json.loads(result.stdout) if result.returncode == 0 else {"runs": [], "recommendation": None}


def check_latency_ranking(report: dict[str, Any]) -> bool:
    """On a latency-bound list every concurrent mode should beat sequential and a thread mode should be
    recommended (a wall-time ranking: it belongs here, on a quiet machine, not in the test suite)."""
    elapsed = {run["mode"]: run["elapsed_s"] for run in report["runs"]}
    sequential = elapsed.get("sequential")
    slower = [
        mode
        for mode, took in elapsed.items()
        if mode != "sequential" and sequential is not None and took >= sequential
    ]
    advice = report["recommendation"] or {}
    thread_advice = advice.get("mode") in ("threads", "thread-pool", "pipeline")
    verdict = "a thread mode, as expected" if thread_advice else "UNEXPECTED"
    print(
        f"check: concurrent modes no faster than sequential: {', '.join(slower) or 'none'}; "
        f"recommended {advice.get('mode')} ({verdict})",
        flush=True,
    )
    return sequential is not None and not slower and thread_advice


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", type=int, default=100, help="files of 16 KiB behind 100 ms (default 100)")
    parser.add_argument("--large", type=int, default=4, help="large files from nginx (default 4)")
    parser.add_argument("--large-mib", type=int, default=64, help="size of each large file (default 64)")
    args = parser.parse_args(argv)
    if shutil.which("nginx") is None:
        print("nginx is missing: apt-get install -y nginx-light", file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="parafetch-compare-"))
    folder.chmod(0o755)  # nginx's workers may run as nobody
    try:
        with LatencyServer() as server:
            ranked = check_latency_ranking(
                compare(
                    [
                        f"{server.base_url}/gen/{SMALL_BYTES}/small{i}.bin?latency={LATENCY}"
                        for i in range(args.small)
                    ],
                    folder,
                    "latency-bound",
                )
            )
        www = folder / "www"
        www.mkdir()
        for i in range(args.large):
            write_big_file(www / f"large{i}.bin", args.large_mib << 20)
        with Nginx(www, folder / "nginx") as nginx:
            compare([f"{nginx.base_url}/large{i}.bin" for i in range(args.large)], folder, "large-files")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0 if ranked else 1


if __name__ == "__main__":
    sys.exit(main())
