"""Parafetch's entry point: the window by default; `get` downloads headless; `compare` times the modes."""

from __future__ import annotations

import _signal  # the C module: loads at once, where `signal` first imports enum and more
import os
import sys


def _interrupted_early(signum: int, frame: object) -> None:
    """Ctrl-C or SIGTERM while this module loads: nothing is under way yet, so say so and leave."""
    sys.stderr.write("\nparafetch: interrupted\n")
    sys.stderr.flush()
    os._exit(143 if signum == _signal.SIGTERM else 130)


if __name__ == "__main__":
    _signal.signal(_signal.SIGINT, _interrupted_early)
    _signal.signal(_signal.SIGTERM, _interrupted_early)

import argparse  # noqa: E402  (after the early handlers: a Ctrl-C from here on gives a line, not a traceback)
import signal  # noqa: E402

from engine.interrupts import handle_sigterm, interrupted_status  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    from engine.cli import add_data_dir_argument, add_get_arguments, positive_int
    from engine.compare_cli import add_compare_arguments
    from engine.pipeline import CHOICES

    parser = argparse.ArgumentParser(prog="parafetch",
                                     description="A download manager with five concurrency modes.")
    parser.add_argument("--mode", choices=CHOICES,
                        help="the window's mode (default: the last one used)")
    parser.add_argument("--workers", type=positive_int, metavar="N", help="the window's pool size")
    add_data_dir_argument(parser)
    commands = parser.add_subparsers(dest="command")
    get = commands.add_parser("get", help="download URLs without a window")
    add_get_arguments(get)
    compare = commands.add_parser("compare", help="run one list through every mode and recommend one")
    add_compare_arguments(compare)
    return parser


def main(argv: list[str] | None = None) -> int:
    from engine.cli import EXIT_USAGE, run_get
    from engine.compare_cli import run_compare

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_USAGE if exit_.code else 0
    if args.command == "get":
        return run_get(args)
    if args.command == "compare":
        return run_compare(args)
    from gui.app import main as open_window

    return open_window(args.mode, args.workers, args.data_dir)


def run() -> int:
    """`main`, with Ctrl-C or SIGTERM at any moment (start-up included) ending it with a line, not a
    traceback; a headless command stops its downloads in good order first."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if len(sys.argv) > 1 and sys.argv[1] in ("get", "compare"):
        handle_sigterm()
    try:
        return main()
    except KeyboardInterrupt as stop:
        print("\nparafetch: interrupted", file=sys.stderr)
        return interrupted_status(stop)


if __name__ == "__main__":
    sys.exit(run())
