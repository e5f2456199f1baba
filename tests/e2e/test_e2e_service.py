"""Capabilities, plans, single clips, metrics and the status codes of bad requests."""

from __future__ import annotations

import logging
import re
import urllib.request
from pathlib import Path

import grpc
import pytest
from e2e_support import TIMELINES, read_wav_info
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from plugin_server.client import FoleyClient, FoleyClientError, GenerateOptions
from plugin_server.proto_gen.foley.v1 import foley_pb2 as pb
from plugin_server.server.logs import TEXT_FORMAT, ContextFilter


def test_capabilities_describe_engines_presets_devices_and_limits(client: FoleyClient) -> None:
    capabilities = client.capabilities()
    engines = {engine.name: engine for engine in capabilities.engines}
    assert engines["procedural"].available
    assert not engines["hunyuan"].available and engines["hunyuan"].reason
    presets = {preset.name: preset for preset in capabilities.presets}
    assert set(presets) >= {"default", "light", "extreme", "reference"}
    assert presets["extreme"].parameters["diffusion_timesteps"] == 25
    (device,) = capabilities.devices
    assert device.name == "cpu" and 0 < device.free_memory_bytes <= device.total_memory_bytes
    assert {"otio", "fcp_xml", "fcpxml", "aaf", "edl"} <= set(capabilities.timeline_formats)
    assert capabilities.limits.audio_chunk_bytes == 1 << 20
    assert capabilities.limits.workers == 1
    assert capabilities.output_root_configured


def test_plan_lists_clips_with_estimates_and_problems(client: FoleyClient) -> None:
    plan = client.plan(TIMELINES / "premiere_example.xml", GenerateOptions(preset="light"))
    assert (plan.engine, plan.preset, plan.timeline_format) == ("procedural", "light", "fcp_xml")
    assert len(plan.clips) == 8  # 6 top-level clips with media + 2 in the nested sequence
    assert all(
        clip.estimated_seconds > 0 and clip.estimated_memory_bytes > 0 for clip in plan.clips
    )
    assert plan.estimated_seconds == pytest.approx(
        sum(clip.estimated_seconds for clip in plan.clips)
    )
    assert [problem.kind for problem in plan.problems] == [pb.PROBLEM_KIND_SKIPPED]
    assert "generator" in plan.problems[0].reason
    assert plan.parameters["frame_sampling_rate"] == 2


def test_track_selection_and_unknown_tracks(client: FoleyClient) -> None:
    plan = client.plan(TIMELINES / "premiere_example.xml", GenerateOptions(tracks=("V2",)))
    # V2: 3 clips of its own and the 2 of the nested sequence it holds.
    assert {clip.track_index for clip in plan.clips} == {2} and len(plan.clips) == 5
    with pytest.raises(FoleyClientError) as refused:
        client.plan(TIMELINES / "premiere_example.xml", GenerateOptions(tracks=("V9",)))
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "'V9'" in str(refused.value)


@pytest.mark.parametrize(
    ("timeline", "options", "message"),
    [
        (b"<not a timeline", GenerateOptions(), "timeline"),
        (TIMELINES / "simple_cut.otio", GenerateOptions(preset="/etc/passwd.yaml"), "preset"),
        (TIMELINES / "simple_cut.otio", GenerateOptions(parameters={"steps": 3}), "unknown key"),
        (
            TIMELINES / "simple_cut.otio",
            GenerateOptions(parameters={"diffusion_timesteps": 0}),
            "diffusion_timesteps",
        ),
        (TIMELINES / "simple_cut.otio", GenerateOptions(engine="nope"), "unknown engine"),
        (TIMELINES / "simple_cut.otio", GenerateOptions(loudness_target_lufs=12.0), "loudness"),
        (TIMELINES / "simple_cut.otio", GenerateOptions(result_format="edl"), "EDL"),
    ],
)
def test_bad_requests_are_invalid_argument_naming_the_field(
    client: FoleyClient,
    timeline,
    options: GenerateOptions,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    with pytest.raises(FoleyClientError) as refused:
        client.plan(timeline, options)
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert message in str(refused.value)


def test_engine_without_weights_is_failed_precondition(client: FoleyClient, tmp_path: Path) -> None:
    with pytest.raises(FoleyClientError) as refused:
        client.generate(
            TIMELINES / "simple_cut.otio", tmp_path / "out.otio", GenerateOptions(engine="hunyuan")
        )
    assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "hunyuan" in str(refused.value)


def test_generate_clip_returns_one_file(client: FoleyClient, tmp_path: Path) -> None:
    audio = client.generate_clip(
        "IMG_0857.MOV",
        tmp_path / "clip.wav",
        media_start_s=2.0,
        media_duration_s=3.0,
        time_scalar=2.0,
        record_start_s=3600.0,
        options=GenerateOptions(prompt="glass"),
    )
    info = read_wav_info(audio.path)
    assert audio.path == tmp_path / "clip.wav"
    assert info.frames == 72_000  # 3 media seconds at 2x speed
    assert info.time_reference == 3600 * 48_000
    with pytest.raises(FoleyClientError) as missing:
        client.generate_clip("nope.mov", tmp_path / "x.wav", media_start_s=0, media_duration_s=1)
    assert missing.value.code == grpc.StatusCode.NOT_FOUND


def test_output_root_delivery_writes_on_the_server(client: FoleyClient, tmp_path: Path) -> None:
    result = client.generate(
        TIMELINES / "simple_cut.otio",
        tmp_path / "client" / "out.otio",
        GenerateOptions(server_output_dir="edits/cut1", container="flac"),
    )
    server_dir = (tmp_path / "output" / "edits" / "cut1").resolve()
    assert sorted(p.name for p in server_dir.iterdir()) == sorted(
        [a.path.name for a in result.audio_files.values()] + ["simple_cut_foley.otio"]
    )
    assert all(audio.path.parent == server_dir for audio in result.audio_files.values())
    assert all(audio.path.suffix == ".flac" for audio in result.audio_files.values())
    assert not (tmp_path / "client" / "out_audio").exists()


def test_metrics_count_jobs_clips_cache_and_device_memory(
    start_server,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    server = start_server(metrics_port=0)
    with FoleyClient(server.address) as client:
        client.generate(TIMELINES / "simple_cut.otio", tmp_path / "a.otio")
        client.generate(TIMELINES / "simple_cut.otio", tmp_path / "b.otio")
    url = f"http://127.0.0.1:{server.metrics_port}/metrics"
    text = urllib.request.urlopen(url, timeout=10).read().decode()

    def value(pattern: str) -> float:
        match = re.search(rf"^{pattern} ([0-9.e+-]+)$", text, re.M)
        assert match, f"{pattern} not in metrics"
        return float(match.group(1))

    assert value(r'foley_jobs_total\{outcome="completed"\}') == 2
    assert value(r'foley_clips_total\{result="generated"\}') == 4
    assert value(r'foley_clips_total\{result="cached"\}') == 4
    assert value("foley_cache_hits_total") == 4
    assert value(r'foley_clip_seconds_count\{engine="procedural"\}') == 8
    assert value("foley_queue_depth") == 0
    assert value("foley_jobs_in_flight") == 0
    assert value(r'foley_device_memory_bytes\{device="cpu",kind="used"\}') > 0


def test_log_lines_carry_the_job_and_clip_ids(client: FoleyClient, tmp_path: Path) -> None:
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Collect()
    handler.addFilter(ContextFilter())
    handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    try:
        result = client.generate(TIMELINES / "simple_cut.otio", tmp_path / "out.otio")
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
    clip_lines = [line for line in records if "clip done" in line]
    assert len(clip_lines) == 4
    for clip_id in result.audio_files:
        assert any(f"job={result.job_id} clip={clip_id}" in line for line in clip_lines)
    assert any(f"job={result.job_id} clip=- job admitted" in line for line in records)


def test_reflection_lists_the_services(server) -> None:  # type: ignore[no-untyped-def]
    with grpc.insecure_channel(server.address) as channel:
        services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
    assert {"foley.v1.FoleyService", "grpc.health.v1.Health"} <= services
