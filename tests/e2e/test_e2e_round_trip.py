"""Real timelines from editing software, through a real server and client, back as timelines.

Media is relinked by base name to placeholder videos under the server's media root. Every
spotted clip must come back as a 48 kHz Broadcast WAV exactly as long as the clip, stamped with
its record start, placed under its picture on a Foley track of the result timeline.
"""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest
from e2e_support import ROUND_TRIP_TIMELINES, TIMELINES, partial_files, read_wav_info

from plugin_server.client import FoleyClient, GenerateOptions
from plugin_server.proto_gen.foley.v1 import foley_pb2 as pb
from timeline.formats import read_timeline
from timeline.native import check_fidelity
from timeline.records import ClipStatus, MediaMap
from timeline.relink import url_to_path
from timeline.spotting import spot_clips

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", ROUND_TRIP_TIMELINES)
def test_sample_timeline_round_trips(
    name: str, client: FoleyClient, media_root: Path, tmp_path: Path
) -> None:
    source = TIMELINES / name
    expected = [
        clip
        for clip in spot_clips(read_timeline(source).timeline, MediaMap(search_roots=(media_root,)))
        if clip.status == ClipStatus.SPOTTED
    ]
    output = tmp_path / "client" / f"result{source.suffix}"
    result = client.generate(source, output, GenerateOptions(prompt="footsteps"))

    summary = result.summary
    # Two clips playing the same media range are one cache entry: the second comes from it.
    assert summary.clips_generated + summary.clips_cached == len(expected)
    assert summary.clips_generated >= min(1, len(expected))
    assert summary.clips_failed == 0 and summary.clips_cancelled == 0
    assert summary.clips_total == len(expected) + summary.clips_skipped
    assert sorted(result.audio_files) == sorted(clip.clip_id for clip in expected)
    for clip in expected:
        audio = result.audio_files[clip.clip_id]
        assert audio.path.parent == tmp_path / "client" / "result_audio"
        info = read_wav_info(audio.path)
        assert (info.sample_rate, info.channels, info.bits_per_sample) == (48_000, 1, 24)
        assert info.frames == round(clip.record_duration_s * 48_000)
        assert info.time_reference == round(clip.record_start_s_since_midnight * 48_000)
        assert audio.report.engine == "procedural"
    assert partial_files(tmp_path) == []

    # The result: the input's format (an EDL comes back as OTIO), Foley tracks under the picture.
    assert result.timeline_path == output
    loaded = read_timeline(output)
    assert loaded.format == ("otio" if source.suffix == ".edl" else read_timeline(source).format)
    if loaded.format in ("fcp_xml", "fcpxml", "aaf"):
        # In the editor's own format, not only through OTIO: every element (AAF: every mob and
        # property) of the input is in the result unchanged, and the only additions are Foley.
        fidelity = check_fidelity(source.read_bytes(), output.read_bytes(), loaded.format)
        assert fidelity.problems == ()
        assert fidelity.added, "the result added no Foley to the editor's document"
    placed = _foley_clips(loaded.timeline, tmp_path / "client" / "result_audio")
    assert len(placed) == len(expected)
    by_file = {Path(url_to_path(clip.media_reference.target_url)).name: clip for clip in placed}
    for clip in expected:
        audio = result.audio_files[clip.clip_id]
        foley = by_file[audio.path.name]
        assert Path(url_to_path(foley.media_reference.target_url)) == audio.path
        record = foley.range_in_parent()
        assert round(record.start_time.to_frames(float(clip.rate))) == clip.record_start_frame
        assert round(record.duration.to_frames(float(clip.rate))) == clip.record_duration_frames


def _foley_clips(timeline: otio.schema.Timeline, audio_dir: Path) -> list[otio.schema.Clip]:
    """Audio clips playing files of `audio_dir` (FCP XML and AAF do not keep track names)."""
    return [
        clip
        for track in timeline.tracks
        if track.kind == otio.schema.TrackKind.Audio
        for clip in track.find_clips()
        if isinstance(clip.media_reference, otio.schema.ExternalReference)
        and Path(url_to_path(clip.media_reference.target_url)).parent == audio_dir
    ]


def test_edl_input_comes_back_as_otio_with_a_note(client: FoleyClient, tmp_path: Path) -> None:
    plan = client.plan(TIMELINES / "dissolve_test.edl")
    assert plan.timeline_format == "edl"
    assert any("EDL cannot carry" in note for note in plan.notes)
    assert all(problem.kind == pb.PROBLEM_KIND_SKIPPED for problem in plan.problems)


def test_missing_media_is_a_clip_problem_not_a_failed_job(
    client: FoleyClient, media_root: Path, tmp_path: Path
) -> None:
    (media_root / "wind-up.mov").unlink()
    result = client.generate(TIMELINES / "simple_cut.otio", tmp_path / "cut.otio")
    kinds = {problem.name: problem.kind for problem in result.problems}
    assert kinds == {"Clip-002": pb.PROBLEM_KIND_MISSING_MEDIA}
    assert "wind-up.mov" in result.problems[0].reason
    assert result.summary.clips_generated == 3
    placed = _foley_clips(read_timeline(tmp_path / "cut.otio").timeline, tmp_path / "cut_audio")
    assert len(placed) == 3
