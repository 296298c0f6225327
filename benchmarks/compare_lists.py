"""The two Compare tables in the README: `main.py compare` over a latency-bound and a large-file list.

    .venv/bin/python -m benchmarks.compare_lists [--small N] [--large N] [--large-mib M]

Starts the project's test server (every answer 100 ms late) and nginx (plain files), writes a list for
each, and runs `python main.py compare -i LIST --pipeline` on it, printing what Parafetch prints.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.servers import ROOT, LatencyServer, Nginx, write_big_file

SMALL_BYTES = 16 * 1024
LATENCY = 0.1


def compare(urls: list[str], folder: Path, title: str) -> None:
    listing = folder / f"{title}.txt"
    listing.write_text("".join(f"{url}\n" for url in urls), encoding="utf-8")
    scratch = folder / f"{title}-scratch"
    scratch.mkdir()
    command = [sys.executable, "main.py", "compare", "-i", str(listing), "--pipeline",
               "--scratch", str(scratch)]
    print(f"### {title}: {len(urls)} URLs\n\n    python main.py compare -i {listing.name} --pipeline\n",
          flush=True)
    subprocess.run(command, cwd=ROOT, check=False)
    print(flush=True)


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
            compare([f"{server.base_url}/gen/{SMALL_BYTES}/small{i}.bin?latency={LATENCY}"
                     for i in range(args.small)], folder, "latency-bound")
        www = folder / "www"
        www.mkdir()
        for i in range(args.large):
            write_big_file(www / f"large{i}.bin", args.large_mib << 20)
        with Nginx(www, folder / "nginx") as nginx:
            compare([f"{nginx.base_url}/large{i}.bin" for i in range(args.large)], folder, "large-files")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
