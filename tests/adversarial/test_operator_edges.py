"""What a first-day operator and user ran into (issue 15, "Operator and user rough edges")."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
from hostile_inputs import TIMELINES, timeline_bytes

from plugin_server import cli, client_cli
from plugin_server.client import FoleyClient
from plugin_server.progress import ProgressDisplay
from plugin_server.proto_gen.foley.v1 import foley_pb2 as pb
from plugin_server.server.app import FoleyServer
from plugin_server.server.config import ServerConfig
from timeline.errors import AmbiguousMedia
from timeline.relink import MediaResolver, media_map_from


def test_a_second_server_on_the_same_port_is_refused(start_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = start_server()
    with pytest.raises(OSError, match="cannot listen"):
        start_server(port=first.port, work_dir=tmp_path / "second")


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_a_port_out_of_range_is_refused(
    port: str, media_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["serve", "--port", port, "--media-root", str(media_root)]
    assert cli.main([*argv, "--work-dir", str(tmp_path / "w")]) == 2
    assert "port must be between 0 and 65535" in capsys.readouterr().err


def test_serve_refuses_an_engine_that_cannot_run(
    media_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["serve", "--engine", "hunyuan", "--media-root", str(media_root), "--port", "0"]
    assert cli.main([*argv, "--work-dir", str(tmp_path / "w")]) == 2
    assert "default engine 'hunyuan' cannot run" in capsys.readouterr().err


def _many_clips(tmp_path: Path, clips: int = 3000) -> Path:
    path = tmp_path / "many.otio"
    path.write_bytes(timeline_bytes(["file:///media/shot.mov"] * clips))
    return path


def _stderr_with_stdout_closed(argv: list[str]) -> tuple[int, str]:
    """Run a command whose stdout reader has gone away before it writes (like `| head`)."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    error = process.stderr.read().decode()
    return process.wait(timeout=60), error


def test_piping_spot_into_head_ends_without_a_traceback(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "plugin_server.cli", "spot", str(_many_clips(tmp_path))]
    status, error = _stderr_with_stdout_closed(argv)
    assert "Traceback" not in error and "BrokenPipe" not in error
    assert status == cli.BROKEN_PIPE_STATUS


@pytest.mark.parametrize("command", ["plan", "capabilities"])
def test_piping_client_output_into_head_ends_without_a_traceback(
    server: FoleyServer, tmp_path: Path, command: str
) -> None:
    argv = [sys.executable, "-m", "plugin_server.client_cli", command]
    if command == "plan":
        argv.append(str(_many_clips(tmp_path, clips=50)))
    status, error = _stderr_with_stdout_closed([*argv, "--server", server.address])
    assert "Traceback" not in error and "BrokenPipe" not in error
    assert status == cli.BROKEN_PIPE_STATUS


def test_quiet_generate_prints_no_info_lines(media_root: Path, tmp_path: Path) -> None:
    edit = tmp_path / "edit.otio"
    edit.write_bytes(timeline_bytes([(media_root / "shot.mov").as_uri()]))
    argv = ["generate", str(edit), "-o", str(tmp_path / "out.otio"), "--media-root"]
    completed = subprocess.run(
        [sys.executable, "-m", "plugin_server.cli", *argv, str(media_root), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert " INFO " not in completed.stderr
    assert (tmp_path / "out.otio").is_file()


def test_log_level_is_taken_before_and_after_the_command() -> None:
    parser = cli.build_parser()
    assert parser.parse_args(["spot", "x.otio", "--log-level", "debug"]).log_level == "DEBUG"
    assert parser.parse_args(["--log-level", "error", "spot", "x.otio"]).log_level == "ERROR"
    assert parser.parse_args(["spot", "x.otio"]).log_level == "INFO"


def test_generate_refuses_a_media_root_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["generate", str(TIMELINES / "simple_cut.otio"), "-o", str(tmp_path / "out.otio")]
    assert cli.main([*argv, "--media-root", str(tmp_path / "nowhere"), "--quiet"]) == 2
    assert "--media-root" in capsys.readouterr().err
    assert not (tmp_path / "out.otio").exists()


def test_generate_exits_non_zero_when_no_clip_got_audio(
    media_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit = tmp_path / "edit.otio"
    edit.write_bytes(timeline_bytes(["file:///elsewhere/missing.mov"]))
    argv = ["generate", str(edit), "-o", str(tmp_path / "out.otio"), "--quiet"]
    assert cli.main([*argv, "--media-root", str(media_root)]) == 1
    assert "no clip got audio" in capsys.readouterr().err


def test_client_generate_exits_non_zero_when_no_clip_got_audio(
    server: FoleyServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit = tmp_path / "edit.otio"
    edit.write_bytes(timeline_bytes(["file:///elsewhere/missing.mov"]))
    argv = ["generate", str(edit), "-o", str(tmp_path / "out.otio"), "--quiet"]
    assert client_cli.main([*argv, "--server", server.address]) == 1
    assert "no clip got audio" in capsys.readouterr().err


@pytest.mark.parametrize("main", [cli.main, client_cli.main])
def test_both_commands_print_their_version(main, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert cli.package_version() in capsys.readouterr().out


def _every_action(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.Action]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += [(f"{name} {n}", a) for n, a in _every_action(sub)]
        elif not isinstance(action, argparse._HelpAction | argparse._VersionAction):
            found.append((action.dest, action))
    return found


def test_every_client_option_has_help_text() -> None:
    missing = [name for name, action in _every_action(client_cli.build_parser()) if not action.help]
    assert missing == []


def test_top_level_help_holds_no_developer_note() -> None:
    text = cli.build_parser().format_help()
    assert "plugin_server/commands" not in text and "module" not in text
    assert cli.DESCRIPTION in text


def test_capabilities_list_the_auto_preset(client: FoleyClient) -> None:
    names = [preset.name for preset in client.capabilities().presets]
    assert "auto" in names and "default" in names


def _accepted(clips: int, problems: int) -> pb.GenerateFoleyResponse:
    plan = pb.Plan(
        clips=[pb.ClipPlan(clip_id=f"c{i}", name=f"shot{i}", track_index=1) for i in range(clips)],
        problems=[
            pb.ClipProblem(clip_id=f"p{i}", name=f"gone{i}", track_index=2, track_name="Video 2")
            for i in range(problems)
        ],
    )
    return pb.GenerateFoleyResponse(accepted=pb.JobAccepted(job_id="j", plan=plan))


class _Stream:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def test_progress_counts_every_clip_from_the_start_with_one_label_form() -> None:
    stream = _Stream()
    display = ProgressDisplay(stream, interactive=False)  # type: ignore[arg-type]
    feed = client_cli.progress_feed(display)
    feed(_accepted(clips=2, problems=1))
    problem = pb.ClipProblem(
        clip_id="p0",
        name="gone0",
        track_index=2,
        track_name="Video 2",
        kind=pb.PROBLEM_KIND_MISSING_MEDIA,
        reason="not found",
    )
    feed(pb.GenerateFoleyResponse(clip_problem=problem))
    display.close()
    assert "(1/3 clips)" in stream.text and "/2 clips" not in stream.text
    assert "V2 gone0  missing_media: not found" in stream.text


def test_progress_prints_nothing_before_the_job_is_accepted() -> None:
    stream = _Stream()
    ProgressDisplay(stream, interactive=False).close()  # type: ignore[arg-type]
    assert stream.text == ""


def test_connection_refused_says_what_to_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert client_cli.main(["capabilities", "--server", "127.0.0.1:1", "--timeout", "5"]) == 3
    error = capsys.readouterr().err
    assert "check the address" in error and "foley-server serve" in error
    assert "overall" not in error


def test_ambiguous_media_advice_is_something_a_client_can_do(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "shot.mov").write_bytes(folder.encode())
    resolver = MediaResolver(media_map_from(search_roots=[tmp_path]))
    with pytest.raises(AmbiguousMedia) as ambiguous:
        resolver.resolve("/Volumes/edit/shot.mov")
    assert "narrow" not in str(ambiguous.value) and "media map" in str(ambiguous.value)


def test_the_client_chooses_a_timeline_by_name(client: FoleyClient) -> None:
    source = TIMELINES / "two_projects.fcpxml"
    assert client.plan(source).timeline_name == "first cut"
    assert client.plan(source, timeline_name="second cut").timeline_name == "second cut"
    args = client_cli.build_parser().parse_args(["plan", str(source), "--timeline-name", "x"])
    assert args.timeline_name == "x"


def test_a_server_config_refuses_a_port_out_of_range(media_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="65535"):
        ServerConfig(media_roots=(media_root,), work_dir=tmp_path, port=99999)
