"""Resource exhaustion: no request may cost more than the configured budget, and every busy
refusal carries a retry hint and is counted (issue 15, "Resource exhaustion")."""

from __future__ import annotations

import resource
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import opentimelineio as otio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hostile_inputs import (
    TIMELINES,
    damaged_aaf,
    metric,
    timeline_bytes,
    understated_otioz,
    whitespace_otioz,
)

from plugin_server.client import FoleyClient, FoleyClientError, GenerateOptions, ServerPath
from plugin_server.pipeline.timeline_reader import (
    SCRATCH_PREFIX,
    ParseLimits,
    read_untrusted_timeline,
)
from plugin_server.proto_gen.foley.v1 import foley_pb2 as pb
from plugin_server.proto_gen.foley.v1 import foley_pb2_grpc
from plugin_server.server.config import AUDIO_CHUNK_BYTES
from timeline import bundles
from timeline.errors import MalformedTimeline
from timeline.formats import read_timeline


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_damaged_aaf_is_refused_without_the_server_growing(client: FoleyClient) -> None:
    # Unbounded, pyaaf2 allocates the 2.4 GB the damaged directory claims, in the server.
    before = _peak_rss_mb()
    with pytest.raises(FoleyClientError) as refused:
        client.plan(damaged_aaf(), timeline_format="aaf")
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "more memory than the server allows (512 MB" in str(refused.value)
    assert _peak_rss_mb() - before < 300


def test_three_damaged_aafs_at_once_are_each_refused(client: FoleyClient) -> None:
    before = _peak_rss_mb()

    def plan() -> grpc.StatusCode | None:
        try:
            client.plan(damaged_aaf(), timeline_format="aaf")
        except FoleyClientError as error:
            return error.code
        return None

    with ThreadPoolExecutor(3) as pool:
        codes = list(pool.map(lambda _: plan(), range(3)))
    assert codes == [grpc.StatusCode.INVALID_ARGUMENT] * 3
    assert _peak_rss_mb() - before < 300


def test_a_real_aaf_read_in_the_child_equals_one_read_in_process() -> None:
    data = (TIMELINES / "transitions.aaf").read_bytes()
    isolated = read_untrusted_timeline(
        data, format=None, timeline_name=None, source_name="t.aaf", limits=ParseLimits()
    )
    direct = read_timeline(data, source_name="t.aaf")
    assert isolated.format == direct.format == "aaf"
    assert isolated.available_names == direct.available_names
    names = [clip.name for clip in isolated.timeline.find_clips()]
    assert names and names == [clip.name for clip in direct.timeline.find_clips()]
    assert isolated.timeline.duration() == direct.timeline.duration()
    assert isolated.original == direct.original == data  # the result patches the original


def _scratch_folders() -> set[str]:
    return {path.name for path in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*")}


def test_an_aaf_parse_over_its_time_budget_is_refused_and_leaves_nothing() -> None:
    data = (TIMELINES / "transitions.aaf").read_bytes()
    before = _scratch_folders()
    with pytest.raises(MalformedTimeline, match="took longer than the server allows"):
        read_untrusted_timeline(
            data,
            format="aaf",
            timeline_name=None,
            source_name="t.aaf",
            limits=ParseLimits(timeout_s=0.01),
        )
    assert _scratch_folders() <= before  # the killed child's temporary AAF went with its folder


def test_otioz_inflating_past_the_message_limit_is_refused(start_server, media_root: Path) -> None:  # type: ignore[no-untyped-def]
    limit = 2 << 20
    server = start_server(max_message_bytes=limit)
    content = timeline_bytes([(media_root / "shot.mov").as_uri()])
    bomb = whitespace_otioz(content, padding_bytes=3 << 20)
    assert len(bomb) < 64 << 10  # a few KB on the wire
    with FoleyClient(server.address) as client:
        with pytest.raises(FoleyClientError) as refused:
            client.plan(bomb, timeline_format="otioz")
        assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert f"at most {limit} bytes" in str(refused.value)
        # The same timeline without the padding is fine.
        plan = client.plan(whitespace_otioz(content, 0), timeline_format="otioz")
        assert len(plan.clips) == 1


def test_otioz_content_is_counted_as_inflated_not_as_declared() -> None:
    content = timeline_bytes(["/media/shot.mov"])
    # Headers claiming 1000 bytes for 3 MB: refused, never inflated beyond the claim.
    lying = understated_otioz(content, padding_bytes=3 << 20, claimed_bytes=1000)
    with pytest.raises(MalformedTimeline):
        bundles.check_content_size(lying, 1 << 20, file="lying.otioz")
    honest = whitespace_otioz(content, padding_bytes=2 << 20)
    with pytest.raises(MalformedTimeline, match="at most 1048576 bytes"):
        bundles.check_content_size(honest, 1 << 20, file="big.otioz")
    bundles.check_content_size(whitespace_otioz(content, 0), 1 << 20, file="small.otioz")


def test_estimate_plan_is_admitted_like_jobs(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(max_jobs=1)
    timeline = (TIMELINES / "simple_cut.otio").read_bytes()
    with FoleyClient(server.address) as client:
        # The one planning slot, taken.
        with server.service.jobs.planning(), pytest.raises(FoleyClientError) as refused:
            client.plan(timeline)
        assert refused.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert refused.value.retry_after_s is not None and refused.value.retry_after_s > 0
        assert metric(server, "foley_jobs_total", outcome="rejected") == 1
        assert client.plan(timeline).timeline_name  # the slot is free again


def _long_request(media_root: Path, clips: int = 40) -> pb.GenerateFoleyRequest:
    url = (media_root / "shot.mov").as_uri()
    return pb.GenerateFoleyRequest(
        timeline=pb.TimelineSource(data=timeline_bytes([url] * clips, clip_frames=24)),
        options=GenerateOptions(skip_cache=True).to_message(),
    )


def test_rpc_limit_refusals_carry_a_retry_hint_and_are_counted(
    start_server, media_root: Path
) -> None:  # type: ignore[no-untyped-def]
    server = start_server(max_concurrent_rpcs=1)
    channel = grpc.insecure_channel(server.address)
    stub = foley_pb2_grpc.FoleyServiceStub(channel)
    # A job whose client reads only its first message holds its RPC: flow control stops the
    # server's stream at the first audio chunk.
    held = stub.GenerateFoley(_long_request(media_root))
    try:
        assert next(held).WhichOneof("event") == "accepted"
        with FoleyClient(server.address) as client, pytest.raises(FoleyClientError) as refused:
            client.capabilities()
        assert refused.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "Concurrent RPC limit" not in str(refused.value)
        assert refused.value.retry_after_s is not None and refused.value.retry_after_s > 0
        assert metric(server, "foley_jobs_total", outcome="rejected") == 1
        # Probes still get through.
        health = health_pb2_grpc.HealthStub(channel)
        status = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert status.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        held.cancel()
        channel.close()


def test_a_result_timeline_larger_than_a_message_arrives_in_pieces(
    start_server, media_root: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    limit = AUDIO_CHUNK_BYTES + (64 << 10)  # the smallest limit a server accepts
    server = start_server(max_message_bytes=limit)
    note_bytes = limit + (512 << 10)  # carried into the result, which then exceeds the limit
    edit = timeline_bytes([(media_root / "shot.mov").as_uri()], metadata_bytes=note_bytes)
    (media_root / "big.otio").write_bytes(edit)  # sent by path: the request stays small
    pieces: list[pb.ResultTimeline] = []

    def on_event(event: pb.GenerateFoleyResponse) -> None:
        if event.WhichOneof("event") == "result_timeline":
            pieces.append(event.result_timeline)

    with FoleyClient(server.address) as client:
        result = client.generate(
            ServerPath("big.otio"), tmp_path / "big_foley.otio", on_event=on_event
        )
    assert result.summary.clips_generated == 1
    assert len(pieces) >= 2 and all(len(p.data) <= AUDIO_CHUNK_BYTES for p in pieces)
    assert [p.offset for p in pieces] == [i * AUDIO_CHUNK_BYTES for i in range(len(pieces))]
    written = tmp_path / "big_foley.otio"
    assert written.stat().st_size == pieces[0].total_size_bytes
    timeline = otio.adapters.read_from_file(str(written))
    assert len(timeline.metadata["note"]) == note_bytes
    assert any(track.kind == otio.schema.TrackKind.Audio for track in timeline.tracks)


def test_cancelled_and_expired_jobs_are_counted_and_logged(
    start_server, media_root: Path, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    server = start_server()
    caplog.set_level("INFO")
    channel = grpc.insecure_channel(server.address)
    stub = foley_pb2_grpc.FoleyServiceStub(channel)
    try:
        held = stub.GenerateFoley(_long_request(media_root))
        assert next(held).WhichOneof("event") == "accepted"
        held.cancel()
        # 400 clips take several seconds even on a quiet machine (about 30 ms each), so the
        # 1.5 s deadline always passes first.
        expiring = stub.GenerateFoley(_long_request(media_root, clips=400), timeout=1.5)
        with pytest.raises(grpc.RpcError) as expired:
            for _ in expiring:
                pass
        assert expired.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    finally:
        channel.close()
    assert server.service.jobs.wait_idle(10.0)
    assert metric(server, "foley_jobs_total", outcome="cancelled") == 1
    assert metric(server, "foley_jobs_total", outcome="deadline_exceeded") == 1
    messages = [record.getMessage() for record in caplog.records]
    assert any("the client cancelled or disconnected" in m for m in messages)
    assert any("the client's deadline passed" in m for m in messages)


def test_a_finished_job_is_logged(
    client: FoleyClient, media_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    edit = timeline_bytes([(media_root / "shot.mov").as_uri()])
    client.generate(edit, tmp_path / "out.otio")
    assert any(r.getMessage().startswith("job finished: ") for r in caplog.records)
