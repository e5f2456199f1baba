"""The command lines: `foley-server generate` in-process, `foley-client` through a server, and
the `make run` demo."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from e2e_support import TIMELINES, partial_files, read_wav_info

from plugin_server import cli, client_cli
from plugin_server.demo import __main__ as demo
from plugin_server.server.app import FoleyServer
from timeline.formats import read_timeline
from timeline.spotting import spot_clips

pytestmark = pytest.mark.slow


def test_foley_server_generate_writes_timeline_and_audio_beside_it(
    media_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "out" / "cut_foley.otio"
    output.parent.mkdir()
    code = cli.main([
        "generate", str(TIMELINES / "simple_cut.otio"), "-o", str(output),
        "--media-root", str(media_root), "--prompt", "punch", "--seed", "3",
        "--device", "cpu", "--quiet", "--handles", "2",
    ])  # fmt: skip
    assert code == 0
    audio = sorted((tmp_path / "out" / "cut_foley_audio").glob("*.wav"))
    assert len(audio) == 4
    # Handles: 2 frames of audio either side of each clip (24 fps), silence before the media.
    durations = sorted(read_wav_info(path).frames for path in audio)
    clips = spot_clips(read_timeline(TIMELINES / "simple_cut.otio").timeline)
    assert durations == sorted(round((c.record_duration_frames + 4) / 24 * 48_000) for c in clips)
    assert read_timeline(output).format == "otio"
    assert "4 generated" in capsys.readouterr().out


def test_foley_server_generate_refuses_bad_options_with_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main([
        "generate", str(TIMELINES / "simple_cut.otio"), "-o", str(tmp_path / "x.otio"),
        "--steps", "0", "--quiet",
    ])  # fmt: skip
    assert code == 2
    assert "diffusion_timesteps" in capsys.readouterr().err


def test_foley_client_generate_plan_and_capabilities(
    server: FoleyServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "edit_foley.xml"
    address = ["--server", server.address]
    code = client_cli.main(
        ["generate", str(TIMELINES / "premiere_example.xml"), "-o", str(output), "--quiet",
         "--prompt", "door slam", *address]
    )  # fmt: skip
    assert code == 0
    # 8: the 6 top-level clips with media plus the 2 inside the nested sequence (issue 12).
    assert len(list((tmp_path / "edit_foley_audio").glob("*.wav"))) == 8
    assert read_timeline(output).format == "fcp_xml"
    assert partial_files(tmp_path) == []
    printed = capsys.readouterr().out
    assert "6 generated, 2 from cache" in printed and str(output) in printed

    plan_command = ["plan", str(TIMELINES / "premiere_example.xml"), "--json", *address]
    assert client_cli.main([*plan_command, "--prompt", "door slam"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert len(plan["clips"]) == 8 and all(clip["cached"] is True for clip in plan["clips"])
    assert client_cli.main([*plan_command, "--prompt", "rain"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert all(clip["cached"] is False for clip in plan["clips"])

    assert client_cli.main(["capabilities", "--json", *address]) == 0
    capabilities = json.loads(capsys.readouterr().out)
    assert capabilities["default_engine"] == "procedural"


def test_foley_client_shows_progress_per_clip_on_stderr(
    server: FoleyServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = client_cli.main(
        ["generate", str(TIMELINES / "simple_cut.otio"), "-o", str(tmp_path / "o.otio"),
         "--server", server.address]
    )  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    assert err.count("-> 00") == 4  # one finished line per clip, naming its file
    assert "overall 100%" in err


def test_foley_client_reports_an_unreachable_server_with_status_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = client_cli.main(["capabilities", "--server", "127.0.0.1:1", "--timeout", "2"])
    assert code == 3
    assert re.search(r"foley-client: (UNAVAILABLE|DEADLINE_EXCEEDED)", capsys.readouterr().err)


def test_demo_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main(["--out", str(tmp_path / "demo_out")]) == 0
    out = tmp_path / "demo_out"
    wavs = sorted((out / "audio").glob("*.wav"))
    assert len(wavs) == 4
    result = read_timeline(out / "demo_foley.otio").timeline
    assert [track.name for track in result.audio_tracks()] == ["Dialogue", "Foley V1", "Foley V2"]
    printed = capsys.readouterr().out
    assert str(out / "demo_foley.otio") in printed
    shutil.rmtree(out)


def test_demo_timeline_names_only_the_demo_media() -> None:
    clips = spot_clips(read_timeline(demo.DEMO_TIMELINE).timeline)
    assert {Path(clip.media_url or "").name for clip in clips} <= set(demo.DEMO_MEDIA)
    assert len(clips) == 4
