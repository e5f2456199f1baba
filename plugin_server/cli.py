"""`foley-server`: one entry point, one module per sub-command under plugin_server/commands/.

Each command module exposes `add_arguments(parser)` and `run(args) -> int` (the exit code).
Modules are imported only when their command runs, so `spot` never loads torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

COMMANDS: dict[str, str] = {
    "serve": "Run the gRPC server",
    "generate": "Generate Foley for a timeline in-process and write the result timeline",
    "spot": "List the picture clips of a timeline that get Foley",
    "weights": "Convert or verify a HunyuanVideo-Foley weights directory",
    "bench": "Benchmark presets through the whole pipeline",
    "finetune": "Train a LoRA adapter on a studio's own sounds",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="foley-server", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        module = _command_module(name)
        if module is not None:
            module.add_arguments(sub)
    return parser


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
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    module = _command_module(args.command)
    if module is None:
        parser.error(f"command {args.command!r} is not available in this build")
    return int(module.run(args))


if __name__ == "__main__":
    sys.exit(main())
