"""Regenerate the committed Python stubs from `protos/foley/v1/foley.proto`.

    python -m plugin_server.proto_build          # rewrite plugin_server/proto_gen/
    python -m plugin_server.proto_build --check  # exit 1 when the committed stubs drifted

The stubs are committed so that installing the package needs no protoc. `--check` compares the
descriptor compiled from the .proto with the one embedded in the committed `foley_pb2.py`, which
does not depend on the grpcio-tools version that happened to generate the files, and the
committed Connect stub (`foley_connect.py`, made by the `protoc-gen-connectrpc` plugin pinned in
the dev dependencies) with a freshly generated one.
"""

from __future__ import annotations

import argparse
import importlib.resources
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = REPO_ROOT / "protos"
PROTO_FILE = "foley/v1/foley.proto"
OUTPUT_ROOT = Path(__file__).resolve().parent / "proto_gen"
STUB_PACKAGE = "plugin_server.proto_gen"

_INIT_TEXT = '"""Generated from protos/ by plugin_server.proto_build; do not edit."""\n'
CONNECT_STUB = "foley_connect.py"
# The Connect plugin targets Google's protobuf runtime (the `*_pb2` modules above), not its own.
_CONNECT_OPTIONS = "protobuf=google"


class ProtoBuildError(RuntimeError):
    """protoc failed; the message carries its output."""


def _protoc(arguments: list[str]) -> None:
    from grpc_tools import protoc  # build-time only: grpcio-tools is a dev dependency

    well_known = importlib.resources.files("grpc_tools") / "_proto"
    command = ["grpc_tools.protoc", f"-I{PROTO_ROOT}", f"-I{well_known}", *arguments, PROTO_FILE]
    status = protoc.main(command)
    if status != 0:
        raise ProtoBuildError(f"protoc failed on {PROTO_ROOT / PROTO_FILE} (exit {status})")


def _connect_plugin() -> Path:
    """The protoc-gen-connectrpc executable installed beside this Python (a dev dependency)."""
    beside = Path(sys.executable).parent / "protoc-gen-connectrpc"
    found = beside if beside.exists() else shutil.which("protoc-gen-connectrpc")
    if not found:
        raise ProtoBuildError(
            "protoc-gen-connectrpc is not installed: pip install the dev dependencies "
            "(pip install -e '.[dev]')"
        )
    return Path(found)


def _connect_arguments(output_root: Path) -> list[str]:
    return [
        f"--plugin=protoc-gen-connectrpc={_connect_plugin()}",
        f"--connectrpc_out={output_root}",
        f"--connectrpc_opt={_CONNECT_OPTIONS}",
    ]


def generate(output_root: Path = OUTPUT_ROOT) -> list[Path]:
    """Write foley_pb2.py, foley_pb2.pyi, foley_pb2_grpc.py and foley_connect.py (the Connect /
    gRPC-Web service and client) under `output_root`/foley/v1/."""
    output_root.mkdir(parents=True, exist_ok=True)
    _protoc(
        [
            f"--python_out={output_root}",
            f"--pyi_out={output_root}",
            f"--grpc_python_out={output_root}",
            *_connect_arguments(output_root),
        ]
    )
    package_dir = output_root / "foley" / "v1"
    for directory in (output_root, output_root / "foley", package_dir):
        (directory / "__init__.py").write_text(_INIT_TEXT, encoding="utf-8")
    # protoc writes absolute imports rooted at protos/ ("from foley.v1 import ..."); inside this
    # package they must be rooted at the stub package instead.
    for path in package_dir.glob("*_grpc.py"):
        text = path.read_text(encoding="utf-8")
        text = re.sub(
            r"^from foley\.v1 import", f"from {STUB_PACKAGE}.foley.v1 import", text, flags=re.M
        )
        path.write_text(text, encoding="utf-8")
    return sorted(package_dir.iterdir())


def compiled_descriptor() -> bytes:
    """The serialized FileDescriptorProto that protoc makes from the .proto today."""
    from google.protobuf import descriptor_pb2

    with tempfile.TemporaryDirectory() as scratch:
        descriptor_path = Path(scratch) / "foley.pb"
        _protoc([f"--descriptor_set_out={descriptor_path}"])
        descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(descriptor_path.read_bytes())
    (proto,) = [file for file in descriptor_set.file if file.name == PROTO_FILE]
    # Generated Python code embeds the descriptor without the derived json_name of each field.
    _clear_json_names(proto.message_type)
    return proto.SerializeToString()


def _clear_json_names(message_types: Iterable[Any]) -> None:
    """Clear json_name on every field of these DescriptorProtos and their nested types."""
    for message_type in message_types:
        for field in message_type.field:
            field.ClearField("json_name")
        _clear_json_names(message_type.nested_type)


def committed_descriptor() -> bytes:
    """The serialized FileDescriptorProto embedded in the committed stubs."""
    from plugin_server.proto_gen.foley.v1 import foley_pb2

    return foley_pb2.DESCRIPTOR.serialized_pb


def generated_connect_stub() -> str:
    """The text of foley_connect.py as the pinned plugin generates it from the .proto today."""
    with tempfile.TemporaryDirectory() as scratch:
        _protoc(_connect_arguments(Path(scratch)))
        return (Path(scratch) / "foley" / "v1" / CONNECT_STUB).read_text(encoding="utf-8")


def committed_connect_stub() -> str:
    return (OUTPUT_ROOT / "foley" / "v1" / CONNECT_STUB).read_text(encoding="utf-8")


def stubs_are_current() -> bool:
    return (
        compiled_descriptor() == committed_descriptor()
        and generated_connect_stub() == committed_connect_stub()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="only check that the committed stubs are current"
    )
    args = parser.parse_args(argv)
    if args.check:
        if stubs_are_current():
            print("proto stubs are current")
            return 0
        print(
            f"proto stubs under {OUTPUT_ROOT} drifted from {PROTO_ROOT / PROTO_FILE}; "
            "run `make proto` and commit the result",
            file=sys.stderr,
        )
        return 1
    for path in generate():
        print(path.relative_to(REPO_ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
