"""The wire contract: committed stubs match the .proto, and it keeps buf's style rules."""

from __future__ import annotations

from plugin_server import proto_build
from plugin_server.proto_gen.foley.v1 import foley_pb2, foley_pb2_grpc


def test_committed_stubs_match_the_proto_file() -> None:
    assert proto_build.compiled_descriptor() == proto_build.committed_descriptor(), (
        "plugin_server/proto_gen drifted from protos/foley/v1/foley.proto: run `make proto`"
    )


def test_grpc_stub_imports_the_committed_messages_module() -> None:
    text = (proto_build.OUTPUT_ROOT / "foley" / "v1" / "foley_pb2_grpc.py").read_text()
    assert "from plugin_server.proto_gen.foley.v1 import foley_pb2" in text
    assert hasattr(foley_pb2_grpc, "FoleyServiceStub")


def test_package_and_service_follow_buf_naming() -> None:
    descriptor = foley_pb2.DESCRIPTOR
    assert descriptor.package == "foley.v1"
    assert descriptor.name == "foley/v1/foley.proto"
    assert all(name.endswith("Service") for name in descriptor.services_by_name)


def test_every_rpc_has_its_own_request_and_response_message() -> None:
    service = foley_pb2.DESCRIPTOR.services_by_name["FoleyService"]
    seen: set[str] = set()
    for method in service.methods:
        assert method.input_type.name == f"{method.name}Request"
        assert method.output_type.name == f"{method.name}Response"
        seen.update((method.input_type.name, method.output_type.name))
    assert len(seen) == 2 * len(service.methods)
    assert {m.name for m in service.methods} == {
        "GenerateFoley",
        "GenerateClip",
        "GetCapabilities",
        "EstimatePlan",
        "CancelJob",
    }


def test_enum_zero_values_are_prefixed_unspecified() -> None:
    for enum in foley_pb2.DESCRIPTOR.enum_types_by_name.values():
        prefix = "".join(f"_{c}" if c.isupper() else c.upper() for c in enum.name).lstrip("_")
        assert enum.values_by_number[0].name == f"{prefix}_UNSPECIFIED"
        assert all(value.name.startswith(f"{prefix}_") for value in enum.values)


def test_committed_connect_stub_matches_the_generator() -> None:
    assert proto_build.generated_connect_stub() == proto_build.committed_connect_stub(), (
        "plugin_server/proto_gen/foley/v1/foley_connect.py drifted from the .proto or from the "
        "pinned protoc-gen-connectrpc: run `make proto`"
    )


def test_connect_stub_serves_every_rpc_with_its_messages_and_stream_type() -> None:
    from types import SimpleNamespace

    from connectrpc.method import StreamType

    from plugin_server.proto_gen.foley.v1 import foley_connect

    service = foley_pb2.DESCRIPTOR.services_by_name["FoleyService"]
    names = ("generate_foley", "generate_clip", "get_capabilities", "estimate_plan", "cancel_job")
    handlers = SimpleNamespace(**{name: lambda *_: None for name in names})
    app = foley_connect.FoleyServiceASGIApplication(handlers)  # type: ignore[arg-type]
    endpoints = app._endpoints(handlers)  # the generated path -> endpoint table
    assert set(endpoints) == {f"/{service.full_name}/{m.name}" for m in service.methods}
    for method in service.methods:
        info = endpoints[f"/{service.full_name}/{method.name}"].method
        assert info.input is getattr(foley_pb2, method.input_type.name)
        assert info.output is getattr(foley_pb2, method.output_type.name)
        streaming = StreamType.SERVER_STREAM if method.server_streaming else StreamType.UNARY
        assert info.stream_type is streaming
