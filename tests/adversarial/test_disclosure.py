"""No probing of the server's files (issue 15, "Information disclosure"): a reference outside
the roots gets the same answer whether or not something is there, and no answer names where a
symbolic link really points."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest
from hostile_inputs import timeline_bytes

from plugin_server.client import FoleyClient, FoleyClientError, ServerPath
from plugin_server.proto_gen.foley.v1 import foley_pb2 as pb


@pytest.fixture
def private(tmp_path: Path, media_root: Path) -> Path:
    """A folder outside the media roots holding a real video, private/present/shot.mov."""
    folder = tmp_path / "private"
    (folder / "present").mkdir(parents=True)
    (folder / "present" / "shot.mov").write_bytes((media_root / "shot.mov").read_bytes())
    return folder


def _only_problem(client: FoleyClient, url: str) -> pb.ClipProblem:
    plan = client.plan(timeline_bytes([url]))
    assert not plan.clips
    (problem,) = plan.problems
    return problem


def test_existing_and_missing_media_outside_the_roots_are_answered_alike(
    client: FoleyClient, private: Path
) -> None:
    (private / "present" / "clip.mov").write_bytes(b"exists")
    existing = (private / "present" / "clip.mov").as_uri()
    missing = (private / "nowhere" / "clip.mov").as_uri()
    found = _only_problem(client, existing)
    absent = _only_problem(client, missing)
    assert found.kind == absent.kind == pb.PROBLEM_KIND_MISSING_MEDIA
    assert found.reason.replace("present", "X") == absent.reason.replace("nowhere", "X")


def test_a_link_in_a_root_is_refused_without_naming_its_target(
    client: FoleyClient, media_root: Path, private: Path
) -> None:
    os.symlink(private / "present" / "shot.mov", media_root / "linked.mov")
    problem = _only_problem(client, "file:///volumes/editor/linked.mov")
    assert problem.kind == pb.PROBLEM_KIND_MISSING_MEDIA
    assert str(private) not in problem.reason


def test_timeline_paths_outside_the_roots_are_answered_alike(
    client: FoleyClient, private: Path
) -> None:
    (private / "present" / "cut.otio").write_bytes(timeline_bytes(["/m/shot.mov"]))
    answers = []
    for path in (private / "present" / "cut.otio", private / "nowhere" / "cut.otio"):
        with pytest.raises(FoleyClientError) as refused:
            client.plan(ServerPath(str(path)))
        answers.append(refused.value)
    assert answers[0].code == answers[1].code == grpc.StatusCode.PERMISSION_DENIED
    assert str(answers[0]).replace("present", "X") == str(answers[1]).replace("nowhere", "X")


def test_a_timeline_link_leading_out_does_not_name_its_target(
    client: FoleyClient, media_root: Path, private: Path
) -> None:
    (private / "present" / "cut.otio").write_bytes(timeline_bytes(["/m/shot.mov"]))
    os.symlink(private / "present" / "cut.otio", media_root / "cut.otio")
    os.symlink(private / "nowhere.otio", media_root / "dangling.otio")
    for name in ("cut.otio", "dangling.otio"):
        with pytest.raises(FoleyClientError) as refused:
            client.plan(ServerPath(name))
        assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
        assert str(private) not in str(refused.value)
