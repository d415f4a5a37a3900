"""``python -m cvlab``: the command-line face of cvlab, a subcommand per capability."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

from cvlab import __version__
from cvlab.commands import library_output_to_stderr, load_commands
from cvlab.errors import CvlabError
from cvlab.commands.jsonable import to_jsonable


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cvlab",
        description="CV Lab from a terminal: the same calls the web pages make.",
    )
    parser.add_argument("--version", action="version", version=f"cvlab {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print machine-readable JSON")
    for command in load_commands().items():
        name, spec = command
        sub = subparsers.add_parser(name, aliases=spec.aliases, help=spec.help, description=spec.help,
                                    parents=[common])
        spec.configure(sub)
        sub.set_defaults(command=name)  # the registered name, also when an alias was typed
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = load_commands().get(args.command)
    # Under --json, stdout is JSON only: whatever libraries print while the command runs goes to stderr.
    quiet = library_output_to_stderr() if args.json else contextlib.nullcontext()
    try:
        with quiet:
            result = command.run(args)
    except CvlabError as err:
        if args.json:
            print(json.dumps({"error": {"type": type(err).__name__, "message": str(err)}}))
        else:
            print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(to_jsonable(result)))  # one line: the last line of any command is its result
    else:
        print(command.render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
