"""Hostile names and structures get typed answers, never INTERNAL (issue 15, "Typed errors"):
one bad clip stays that clip's problem; a bad request is INVALID_ARGUMENT naming the field."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest
from hostile_inputs import timeline_bytes

from plugin_server.client import FoleyClient, FoleyClientError, GenerateOptions, ServerPath
from plugin_server.proto_gen.foley.v1 import foley_pb2 as pb

LONG_NAME = "a" * 300  # NAME_MAX is 255 bytes


def _refused(call) -> FoleyClientError:  # type: ignore[no-untyped-def]
    with pytest.raises(FoleyClientError) as refused:
        call()
    return refused.value


def test_a_media_name_over_255_bytes_is_one_clips_problem(
    client: FoleyClient, media_root: Path
) -> None:
    good = (media_root / "shot.mov").as_uri()
    plan = client.plan(timeline_bytes([f"file:///media/{LONG_NAME}.mov", good]))
    assert len(plan.clips) == 1 and plan.clips[0].name == "shot1"
    assert [problem.kind for problem in plan.problems] == [pb.PROBLEM_KIND_MISSING_MEDIA]
    assert plan.problems[0].name == "shot0"


def test_a_timeline_path_over_255_bytes_is_an_invalid_argument(client: FoleyClient) -> None:
    error = _refused(lambda: client.plan(ServerPath(f"edits/{LONG_NAME}.otio")))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "timeline.path" in str(error) and "255" in str(error)


def test_a_timeline_path_in_a_symlink_loop_is_an_invalid_argument(
    client: FoleyClient, media_root: Path
) -> None:
    os.symlink("loop_b.otio", media_root / "loop_a.otio")
    os.symlink("loop_a.otio", media_root / "loop_b.otio")
    error = _refused(lambda: client.plan(ServerPath("loop_a.otio")))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "timeline.path" in str(error) and "loop" in str(error)


def test_a_media_path_over_255_bytes_is_an_invalid_argument(
    client: FoleyClient, tmp_path: Path
) -> None:
    error = _refused(
        lambda: client.generate_clip(
            f"{LONG_NAME}.mov", tmp_path / "a.wav", media_start_s=0, media_duration_s=1
        )
    )
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "media_path" in str(error)


def test_an_output_dir_over_255_bytes_is_an_invalid_argument(
    client: FoleyClient, media_root: Path, tmp_path: Path
) -> None:
    edit = timeline_bytes([(media_root / "shot.mov").as_uri()])
    options = GenerateOptions(server_output_dir=f"jobs/{LONG_NAME}")
    error = _refused(lambda: client.generate(edit, tmp_path / "out.otio", options))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "output_dir" in str(error)


def test_a_rate_timecode_cannot_carry_is_an_invalid_argument(client: FoleyClient) -> None:
    # A track starting 24 frames early at 1e9 fps: OTIO's timecode refuses the rate.
    edit = timeline_bytes(["file:///media/shot.mov"], rate=1e9, track_start_frames=-24)
    error = _refused(lambda: client.plan(edit))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "<timeline bytes>" in str(error) and "internal" not in str(error).lower()


def test_480_nested_stacks_are_an_invalid_argument_and_300_work(
    client: FoleyClient, media_root: Path
) -> None:
    url = (media_root / "shot.mov").as_uri()
    error = _refused(lambda: client.plan(timeline_bytes([url], nesting=480)))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "internal" not in str(error).lower()
    assert len(client.plan(timeline_bytes([url], nesting=300)).clips) == 1
