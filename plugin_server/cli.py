"""`foley-server`: one entry point, one module per sub-command under plugin_server/commands/.

Each command module exposes `add_arguments(parser)` and `run(args) -> int` (the exit code).
Modules are imported only when their command runs, so `spot` never loads torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

COMMANDS: dict[str, str] = {
    "serve": "Run the gRPC server",
    "generate": "Generate Foley for a timeline in-process and write the result timeline",
    "spot": "List the picture clips of a timeline that get Foley",
    "weights": "Convert or verify a HunyuanVideo-Foley weights directory",
    "bench": "Benchmark presets through the whole pipeline",
    "finetune": "Train a LoRA adapter on a studio's own sounds",
    "devices": "Show the devices the server would use and the preset auto picks on each",
    "watch": "Process every timeline exported into a folder, results into another",
}


DESCRIPTION = "Foley for editors' timelines: serve it over gRPC, or generate it here."
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# 128 + SIGPIPE, what a shell reports for a command whose reader went away (`| head`).
BROKEN_PIPE_STATUS = 141


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="foley-server", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    _add_log_level(parser, default="INFO")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        # Also after the command (`foley-server serve --log-level DEBUG`); SUPPRESS keeps a
        # level given before the command when none is given after it.
        _add_log_level(sub, default=argparse.SUPPRESS)
        module = _command_module(name)
        if module is not None:
            module.add_arguments(sub)
    return parser


def _add_log_level(parser: argparse.ArgumentParser, *, default: str) -> None:
    parser.add_argument(
        "--log-level",
        default=default,
        type=str.upper,
        choices=LOG_LEVELS,
        help="logging level (default INFO; WARNING with --quiet)",
    )


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("foley-backend")
    except PackageNotFoundError:
        return "unknown"


def _command_module(name: str):  # type: ignore[no-untyped-def]
    module_name = f"plugin_server.commands.{name}"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name == module_name:
            return None
        raise


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(arguments)
    if getattr(args, "quiet", False) and not _level_given(arguments):
        args.log_level = "WARNING"
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    module = _command_module(args.command)
    if module is None:
        parser.error(f"command {args.command!r} is not available in this build")
    try:
        status = int(module.run(args))
        sys.stdout.flush()  # here, where a reader gone away can still be handled
        return status
    except BrokenPipeError:
        return exit_on_broken_pipe()


def _level_given(arguments: list[str]) -> bool:
    return any(text == "--log-level" or text.startswith("--log-level=") for text in arguments)


def exit_on_broken_pipe() -> int:
    """The reader of stdout went away (`| head`): stop quietly, as other tools do. stdout is
    pointed at /dev/null so that flushing it at exit cannot raise again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return BROKEN_PIPE_STATUS


if __name__ == "__main__":
    sys.exit(main())
