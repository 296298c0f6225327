"""`main.py compare`: one URL list through every mode, a table of what each cost, and a recommendation."""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from engine.cli import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_retry_arguments,
    non_negative_int,
    positive_int,
    report_input,
)
from engine.compare import ALL_MODES, COLUMNS, ComparisonReport, ModeRun, run_comparison
from engine.events import RetryPolicy
from engine.interrupts import EXIT_INTERRUPTED, interrupted_status
from engine.modes import MODES
from engine.pipeline import PIPELINE
from engine.recommend import recommend
from engine.sources import read_sources

CSV_COLUMNS = (*COLUMNS, "elapsed_min_s", "elapsed_max_s", "repeats")
_HEADER = (
    "mode",
    "workers",
    "elapsed s",
    "files/s",
    "MB/s",
    "threads peak/mean",
    "processes",
    "RSS MB",
    "CPU s",
)


def mode_list(text: str) -> list[str]:
    """`--modes` as a list: comma-separated names, each one of the modes or "pipeline"."""
    modes = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in modes if m not in ALL_MODES]
    if unknown or not modes:
        raise argparse.ArgumentTypeError(f"unknown mode {unknown[0]!r}" if unknown else "no mode given")
    return list(dict.fromkeys(modes))


def add_compare_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `compare`."""
    parser.add_argument("urls", nargs="*", metavar="URL", help="URLs to fetch in every mode")
    parser.add_argument(
        "-i", "--input", action="append", default=[], metavar="FILE",
        help="a list file of URLs ('-' reads standard input); may be repeated",
    )  # fmt: skip
    parser.add_argument(
        "--modes", type=mode_list, default=list(MODES), metavar="M,...",
        help=f"modes to run, in order (default: all five; also: {PIPELINE})",
    )  # fmt: skip
    parser.add_argument(
        "-w", "--workers", type=positive_int, metavar="N",
        help="pool size (default: 8 threads, or one process per CPU); sequential ignores it",
    )  # fmt: skip
    parser.add_argument(
        "--repeat", type=positive_int, default=1, metavar="K",
        help="run each mode K times and report the median and the spread (default 1)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout at the end")
    parser.add_argument("--csv", metavar="FILE", help="also write one row per mode to FILE")
    parser.add_argument(
        "--pipeline", action="store_true",
        help="add a pipeline row: downloads in a thread pool, SHA-256 and thumbnails in a process pool",
    )  # fmt: skip
    parser.add_argument(
        "--cpu-rounds", type=non_negative_int, default=0, metavar="N",
        help="extra CPU work per file in the pipeline's stage (N chained SHA-256s, ~1 µs each)",
    )  # fmt: skip
    parser.add_argument("--scratch", metavar="DIR", help="where the scratch folders go (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the downloaded files")
    add_retry_arguments(parser)


def table_header(repeat: int) -> str:
    widths = _widths(repeat)
    cells = [
        f"{h:<{w}}" if i == 0 else f"{h:>{w}}" for i, (h, w) in enumerate(zip(_HEADER, widths, strict=True))
    ]
    return "  ".join(cells) + "  failed"


def table_row(run: ModeRun, repeat: int) -> str:
    """One mode as a line of the table; with repeats, elapsed is the median and (min–max)."""
    elapsed = f"{run.elapsed_s:.2f}"
    if repeat > 1:
        elapsed += f" ({run.elapsed_min:.2f}–{run.elapsed_max:.2f})"
    values = (
        run.label,
        str(run.workers),
        elapsed,
        f"{run.files_per_s:.1f}",
        f"{run.mb_per_s:.2f}",
        f"{run.peak_threads} / {run.mean_threads:.1f}",
        str(run.peak_processes),
        f"{run.peak_rss_mb:.1f}",
        f"{run.cpu_s:.2f}",
    )
    widths = _widths(repeat)
    cells = [
        f"{v:<{w}}" if i == 0 else f"{v:>{w}}" for i, (v, w) in enumerate(zip(values, widths, strict=True))
    ]
    return "  ".join(cells) + f"  {run.failed:>6}"


def _widths(repeat: int) -> tuple[int, ...]:
    return (38, 7, 20 if repeat > 1 else 9, 8, 8, 17, 9, 7, 6)


def write_csv(out: TextIO, runs: Sequence[ModeRun]) -> None:
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for run in runs:
        row = run.record()
        writer.writerow(
            [*(row[c] for c in COLUMNS), round(run.elapsed_min, 3), round(run.elapsed_max, 3), run.repeats]
        )


def run_compare(args: argparse.Namespace) -> int:
    """Compare the modes on the given list; returns the exit status."""
    parsed = read_sources(args.urls, args.input)
    report_input(parsed, sys.stderr)
    if not parsed.entries:
        print(
            "parafetch: no URLs to compare (pass URLs, or -i FILE, or -i - for standard input)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    modes = list(args.modes) + ([PIPELINE] if args.pipeline and PIPELINE not in args.modes else [])
    if args.scratch and not os.path.isdir(args.scratch):
        print(f"parafetch: the scratch folder {args.scratch} does not exist", file=sys.stderr)
        return EXIT_USAGE
    try:
        csv_out = open(args.csv, "w", newline="", encoding="utf-8") if args.csv else None  # noqa: SIM115
    except OSError as exc:
        print(f"parafetch: cannot write {args.csv}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    out = sys.stderr if args.json else sys.stdout
    print(f"parafetch: comparing {len(parsed.entries)} URLs in {len(modes)} modes", file=sys.stderr)
    print(table_header(args.repeat), file=out, flush=True)
    result: list[ComparisonReport] = []
    errors: list[BaseException] = []
    cancel = threading.Event()

    def work() -> None:
        retry = RetryPolicy(args.attempts, args.retry_base, args.retry_cap)
        show = lambda run: print(table_row(run, args.repeat), file=out, flush=True)  # noqa: E731
        try:
            result.append(
                run_comparison(
                    parsed.entries,
                    modes,
                    args.workers,
                    args.repeat,
                    args.scratch,
                    show,
                    cancel=cancel,
                    keep=args.keep,
                    cpu_rounds=args.cpu_rounds,
                    retry=retry,
                )
            )
        except Exception as exc:  # reported below, after the table
            errors.append(exc)

    worker = threading.Thread(target=work, name="compare", daemon=True)
    worker.start()
    stopped = EXIT_INTERRUPTED
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt as stop:
        stopped = interrupted_status(stop)
        cancel.set()
        print("\nparafetch: interrupted; stopping the current run", file=sys.stderr)
        worker.join()
    try:
        if errors:
            print(
                f"parafetch: the comparison failed: {type(errors[0]).__name__}: {errors[0]}", file=sys.stderr
            )
            return EXIT_FAILED
        if not result or result[0].cancelled:
            return stopped
        report = result[0]
        if csv_out is not None:
            write_csv(csv_out, report.runs)
    finally:
        if csv_out is not None:
            csv_out.close()
    advice = recommend(report)
    fastest = report.fastest()
    if fastest is not None:
        print(f"fastest: {fastest.label} ({fastest.elapsed_s:.2f} s)", file=out)
    stage = f"; post-processing in {advice.stage}" if advice.stage else ""
    print(f"recommendation: {advice.mode} with {advice.workers} workers{stage}. {advice.reason}", file=out)
    if report.scratch_dir:
        print(f"parafetch: the downloads are kept in {report.scratch_dir}", file=sys.stderr)
    if args.json:
        print(json.dumps({"runs": [r.record() for r in report.runs], "recommendation": advice.record()}))
    failed = parsed.rejected or any(r.failed for r in report.runs)
    return EXIT_FAILED if failed else EXIT_OK
