"""``ravine schedule SPEC --steps N -o file.png``: draw a learning-rate schedule from the shell.

SPEC is a call expression naming a schedule of :mod:`ravine.schedules` with keyword arguments,
e.g. ``'warmup_cosine(peak=0.1, warmup=500, total=10000)'`` or
``'sgdr(peak=0.1, T_0=1000, T_mult=2)'``; schedules nest
(``'warmup(sgdr(peak=0.1, T_0=1000), warmup=200)'``). A malformed SPEC prints what is wrong and
exits with status 2.
"""

from __future__ import annotations

import argparse
import sys

from .schedules import REGISTRY, parse, plot

EXAMPLE = "warmup_cosine(peak=0.1, warmup=500, total=10000)"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``schedule`` subcommand's arguments to ``parser``."""
    parser.description = (
        f"Draw a learning-rate schedule to an image. SPEC is e.g. '{EXAMPLE}'; "
        f"schedules: {', '.join(sorted(REGISTRY))}."
    )
    parser.add_argument("spec", metavar="SPEC", help=f"the schedule, e.g. '{EXAMPLE}'")
    parser.add_argument("--steps", type=int, default=None,
                        help="number of steps to draw (default: the SPEC's total, else 1000)")
    parser.add_argument("-o", "--output", default="schedule.png",
                        help="output image (default: schedule.png)")
    parser.add_argument("--log", action="store_true", help="log scale for the learning rate")


def run(args: argparse.Namespace) -> int:
    """Parse the SPEC, draw it and write the image; 2 on a bad SPEC or --steps."""
    try:
        schedule = parse(args.spec)
    except ValueError as exc:
        print(f"ravine schedule: invalid SPEC {args.spec!r}: {exc}", file=sys.stderr)
        return 2
    steps = args.steps
    if steps is None:
        steps = int(getattr(schedule, "total", 1000))
    if steps < 1:
        print(f"ravine schedule: --steps must be an integer >= 1, got {steps}", file=sys.stderr)
        return 2
    try:
        plot(schedule, steps, path=args.output, log=args.log)
    except (OSError, ValueError) as exc:
        print(f"ravine schedule: cannot write {args.output!r}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.output} ({schedule!r}, {steps} steps)")
    return 0
