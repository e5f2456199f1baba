"""`foley-server spot`: one JSON object per spotted or skipped clip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from timeline_builders import DATA, make_placeholder_media

from plugin_server.cli import main
from timeline.formats import read_timeline

REQUIRED = {
    "id", "track", "name", "status", "reason", "record_start_frame", "record_duration_frames",
    "rate", "record_timecode", "media_path", "media_start_s", "media_duration_s",
    "time_scalar", "prompt",
}  # fmt: skip


def run_spot(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["spot", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_rows_for_every_clip(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    media = make_placeholder_media(read_timeline(DATA / "hard_cases.otio").timeline, tmp_path)
    code, out, _ = run_spot(
        capsys, str(DATA / "hard_cases.otio"), "--media-root", str(media), "--json"
    )
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 8
    assert set(rows[0]) >= REQUIRED
    first = rows[0]
    assert (first["name"], first["track"], first["status"]) == ("A", 1, "spotted")
    assert (first["record_start_frame"], first["record_duration_frames"]) == (5, 10)
    assert first["record_timecode"] == "01:00:00:05"
    assert first["rate"] == "24"
    assert first["time_scalar"] == 2.0
    assert first["media_path"] == str(media / "A.mov")
    assert first["media_start_s"] == pytest.approx(110 / 24)
    prompts = {row["name"]: row["prompt"] for row in rows}
    assert prompts["after dissolve"] == "door slam"
    skipped = {row["name"]: row["reason"] for row in rows if row["status"] == "skipped"}
    assert set(skipped) == {"title", "offline", "off"}


def test_media_map_relinks(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    (tmp_path / "otio").mkdir()
    for name in ("IMG_0233.MOV", "IMG_0268.MOV", "IMG_0857.MOV", "IMG_0858.MOV"):
        (tmp_path / "otio" / name).write_bytes(b"")
    code, out, err = run_spot(
        capsys,
        str(DATA / "fcpx_clips.fcpxml"),
        "--media-map",
        f"/Volumes/Media={tmp_path}",
        "--json",
    )
    assert code == 0
    rows = json.loads(out)
    assert [row["status"] for row in rows] == ["spotted"] * 4
    assert "compound clip" in err


def test_table_output_and_timeline_choice(capsys: pytest.CaptureFixture[str]):
    code, out, _ = run_spot(
        capsys, str(DATA / "two_projects.fcpxml"), "--timeline-name", "second cut"
    )
    assert code == 0
    assert out.startswith("second cut (fcpxml): 0 of 2 picture clips spotted")


def test_bad_file_exits_2_with_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    bad = tmp_path / "cut.otio"
    bad.write_text('{"OTIO_SCHEMA": "Timeline.1", "tracks": ')
    code, out, err = run_spot(capsys, str(bad), "--json")
    assert code == 2
    assert out == ""
    assert str(bad) in err and "not valid OTIO JSON" in err
    code, _, err = run_spot(capsys, str(bad), "--media-map", "nonsense")
    assert code == 2 and "OLD=NEW" in err
