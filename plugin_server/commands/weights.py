"""`foley-server weights`: convert, verify or create a HunyuanVideo-Foley weights directory.

    foley-server weights convert SRC DST [--dtype fp16|bf16]   safetensors copy of SRC in DST
    foley-server weights verify DIR                            list what is wrong; exit 1 if any
    foley-server weights tiny DST [--seed N]                   tiny random official-layout dir

torch is imported only inside `run`, as cli.py imports every command module to build its parser.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="weights_action", required=True, metavar="ACTION")
    convert = actions.add_parser(
        "convert", help="write a safetensors copy of a weights directory (optionally fp16/bf16)"
    )
    convert.add_argument("source", type=Path, metavar="SRC", help="official weights directory")
    convert.add_argument("target", type=Path, metavar="DST", help="new (or empty) directory")
    convert.add_argument(
        "--dtype",
        choices=("fp16", "bf16"),
        default=None,
        help="cast the transformer and Synchformer (the VAE stays float32)",
    )
    convert.add_argument("--model-size", choices=("xxl", "xl"), default=None)
    verify = actions.add_parser(
        "verify", help="check a weights directory: keys, shapes, dtypes, widths, checksums"
    )
    verify.add_argument("directory", type=Path, metavar="DIR")
    verify.add_argument("--model-size", choices=("xxl", "xl"), default=None)
    tiny = actions.add_parser(
        "tiny", help="write a tiny random weights directory in the official layout (for tests)"
    )
    tiny.add_argument("target", type=Path, metavar="DST")
    tiny.add_argument("--seed", type=int, default=0)
    tiny.add_argument("--model-size", choices=("xxl", "xl"), default="xxl")


def run(args: argparse.Namespace) -> int:
    from plugin_server.engines.hunyuan.checkpoint import WeightsError

    try:
        if args.weights_action == "convert":
            return _convert(args)
        if args.weights_action == "verify":
            return _verify(args)
        return _tiny(args)
    except WeightsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _convert(args: argparse.Namespace) -> int:
    from plugin_server.engines.hunyuan.weights_convert import convert_weights_dir

    converted = convert_weights_dir(
        args.source, args.target, dtype=args.dtype, model_size=args.model_size
    )
    for item in converted:
        print(f"{args.target / item.name}: {item.tensors} tensors, {item.dtype}")
    print(f"wrote {args.target} (with SHA256SUMS)")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from plugin_server.engines.hunyuan.weights_verify import verify_weights_dir

    report = verify_weights_dir(args.directory, model_size=args.model_size)
    for line in report.checked:
        print(f"ok    {line}")
    for problem in report.problems:
        print(f"ERROR {problem}")
    if report.ok:
        print(f"{args.directory}: all checks passed")
        return 0
    print(f"{args.directory}: {len(report.problems)} problem(s)", file=sys.stderr)
    return 1


def _tiny(args: argparse.Namespace) -> int:
    from plugin_server.engines.hunyuan.tiny_weights import write_tiny_weights

    layout = write_tiny_weights(args.target, seed=args.seed, model_size=args.model_size)
    print(f"wrote tiny weights to {layout.root} ({layout.transformer.name})")
    return 0
