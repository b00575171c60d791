"""The ``ravine`` command. Each subcommand lives in its own module (``configure`` + ``run``)."""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> module with ``configure(parser)`` and ``run(args) -> int``
COMMANDS = {
    "compare": ("ravine.lab.cli", "run optimizers on problems, tune, store and report"),
    "schedule": ("ravine.schedule_cli", "draw a learning-rate schedule to a PNG"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ravine", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        try:
            importlib.import_module(module).configure(p)
        except ModuleNotFoundError as exc:  # a subcommand not built yet
            if exc.name != module:
                raise
            p.set_defaults(_missing=module)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    if getattr(args, "_missing", None):
        print(f"ravine {args.command}: not available ({args._missing} missing)", file=sys.stderr)
        return 2
    return int(importlib.import_module(args._module).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
