"""Parafetch's entry point: no subcommand opens the window; `get` downloads headless."""

from __future__ import annotations

import argparse
import sys

from engine.cli import EXIT_USAGE, add_get_arguments, run_get


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parafetch", description="A download manager with five concurrency modes."
    )
    commands = parser.add_subparsers(dest="command")
    get = commands.add_parser("get", help="download URLs without a window")
    add_get_arguments(get)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_USAGE if exit_.code else 0
    if args.command == "get":
        return run_get(args)
    print("parafetch: the window is not built yet; use `python main.py get --help`", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
