"""The DaVinci Resolve script against a real server: its plain-Python flow, its Resolve layer
driven through a stand-in of Resolve's documented API, and the installed script file run by a
bare interpreter that finds the client only through what the installer wrote."""

from __future__ import annotations

import contextlib
import html
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_support import TIMELINES, read_wav_info
from resolve_dialog_render import PAGE_SIZE, page_html, png_size, screenshot
from resolve_standin import StandInBmd, StandInFusion, StandInResolve, StandInWindow

from plugin_server.client import FoleyClient
from plugin_server.integrations.resolve import host
from plugin_server.integrations.resolve.flow import (
    FoleyRequest,
    ResolveScriptError,
    generate,
    parse_request,
    run_foley,
    server_choices,
)
from plugin_server.integrations.resolve.host import FOLEY_BIN, ResolveProject
from plugin_server.integrations.resolve.install import install
from plugin_server.server.app import FoleyServer
from timeline.formats import read_timeline
from timeline.relink import url_to_path

pytestmark = pytest.mark.slow
CHROMIUM = Path(os.environ.get("FOLEY_CHROMIUM", "/usr/bin/chromium"))
DIALOG_FIELDS = ("prompt", "preset", "engine", "server", "handles", "output", "status")


def foley_files(result: Path) -> list[Path]:
    audio_dir = result.parent / "audio"
    files = []
    for track in read_timeline(result).timeline.audio_tracks():
        for clip in track.find_clips():
            url = getattr(clip.media_reference, "target_url", "")
            if url and Path(url_to_path(url)).parent == audio_dir:
                files.append(Path(url_to_path(url)))
    return files


def test_dialog_values_become_a_request_or_a_message_naming_the_field(tmp_path: Path) -> None:
    request = parse_request(
        {
            "server": "render01:50051",
            "prompt": " boots on gravel ",
            "preset": "(server default)",
            "engine": "procedural",
            "handles_frames": "6",
            "output_folder": str(tmp_path),
        }
    )
    assert request == FoleyRequest(
        server="render01:50051",
        prompt="boots on gravel",
        preset="",
        engine="procedural",
        handles_frames=6,
        output_folder=str(tmp_path),
    )
    for field, value, message in (
        ("server", "http://render01", "Server"),
        ("handles_frames", "twelve", "Handles"),
        ("handles_frames", "-1", "Handles"),
        ("token_file", str(tmp_path / "missing.token"), "Token file"),
    ):
        with pytest.raises(ResolveScriptError, match=message):
            parse_request({field: value})


def test_dropdowns_list_what_the_server_offers(server: FoleyServer) -> None:
    with FoleyClient(server.address) as client:
        client.wait_until_ready()
        choices = server_choices(client)
    assert choices.reachable
    assert "procedural" in choices.engines and "auto" in choices.presets
    with FoleyClient("127.0.0.1:1") as client:
        fallback = server_choices(client, timeout_s=1.0)
    assert not fallback.reachable and "default" in fallback.presets


def test_generate_writes_an_otio_result_and_audio_beside_it(
    server: FoleyServer, tmp_path: Path
) -> None:
    request = FoleyRequest(server=server.address, prompt="punch", output_folder=str(tmp_path))
    lines: list[str] = []
    with FoleyClient(server.address) as client:
        result = generate(
            client, TIMELINES / "simple_cut.otio", "Reel 1: cut/2", request, on_line=lines.append
        )
    assert result.timeline_path == tmp_path / "Reel 1_ cut_2" / "Reel 1_ cut_2 Foley.otio"
    # Two of its clips show the same media range: the second comes from the cache.
    assert (result.generated, result.cached, result.failed) == (3, 1, 0)
    assert sorted(foley_files(result.timeline_path)) == list(result.audio_files)
    assert all(read_wav_info(path).frames > 0 for path in result.audio_files)
    assert lines[0].startswith("Foley: 4 clips") and len(lines) == 5
    assert [line.split(" done ")[0] for line in lines[1:]] == [
        "Foley: [1/4] 25 %",
        "Foley: [2/4] 50 %",
        "Foley: [3/4] 75 %",
        "Foley: [4/4] 100 %",
    ]
    assert result.message == "Foley for 4 clips (1 from the cache)."


def test_an_unreachable_server_is_a_message_for_the_editor(tmp_path: Path) -> None:
    request = FoleyRequest(server="127.0.0.1:1", output_folder=str(tmp_path))
    with (
        FoleyClient(request.server) as client,
        pytest.raises(ResolveScriptError, match=r"No Foley server answered at 127\.0\.0\.1:1"),
    ):
        generate(client, TIMELINES / "simple_cut.otio", "Reel 1", request, on_line=print)


def test_the_resolve_layer_exports_otio_and_imports_result_and_audio(
    server: FoleyServer, tmp_path: Path
) -> None:
    resolve = StandInResolve("Reel 1", TIMELINES / "simple_cut.otio")
    message = run_foley(
        ResolveProject(resolve),
        FoleyRequest(server=server.address, output_folder=str(tmp_path)),
        on_line=lambda _line: None,
    )
    export, media, timeline = resolve.calls
    assert export[0] == "Export" and export[2:] == ("EXPORT_OTIO", "EXPORT_NONE")
    assert media[0] == "ImportMedia" and media[1] == FOLEY_BIN and len(media[2]) == 4
    assert timeline[0] == "ImportTimelineFromFile"
    assert timeline[2] == {"timelineName": "Reel 1 Foley", "importSourceClips": True}
    result = Path(timeline[1])
    assert sorted(str(path) for path in foley_files(result)) == sorted(media[2])
    assert resolve.project.GetCurrentTimeline().GetName() == "Reel 1 Foley"
    assert resolve.project.media_pool.current.name == "Master"  # the editor's bin, restored
    assert message.endswith("New timeline: 'Reel 1 Foley'.")

    resolve.project.SetCurrentTimeline(resolve.project.GetTimelineByIndex(1))  # the edit again
    again = run_foley(
        ResolveProject(resolve),
        FoleyRequest(server=server.address, output_folder=str(tmp_path)),
        on_line=lambda _line: None,
    )
    assert "(4 from the cache)" in again and "'Reel 1 Foley 2'" in again


def test_no_open_timeline_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(ResolveScriptError, match="Open a timeline first"):
        run_foley(ResolveProject(StandInResolve()), FoleyRequest(output_folder=str(tmp_path)))


def test_the_installed_script_runs_in_a_bare_python_against_a_real_server(
    server: FoleyServer, tmp_path: Path
) -> None:
    installed = install(tmp_path / "Scripts" / "Utility").path
    home = tmp_path / "home"
    settings = home / ".config" / "foley-backend" / "resolve.json"
    settings.parent.mkdir(parents=True)
    output = tmp_path / "Foley"
    settings.write_text(json.dumps({"server": server.address, "output_folder": str(output)}))
    # -I -S: no site-packages, no environment: only the paths the installer wrote find the client.
    code = (
        "import sys, json; "
        f"sys.path.append({str(Path(__file__).parent)!r}); "
        "from resolve_standin import StandInResolve; "
        f"resolve = StandInResolve('Reel 1', __import__('pathlib').Path({str(TIMELINES)!r}) / "
        "'simple_cut.otio'); "
        f"exec(open({str(installed)!r}).read(), {{'__name__': '__main__', 'resolve': resolve}}); "
        "print(json.dumps([list(call[:2]) for call in resolve.calls]))"
    )
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
    )
    assert completed.returncode == 0, completed.stderr
    printed = completed.stdout.strip().splitlines()
    assert printed[-2].startswith("Foley for 4 clips")
    calls = json.loads(printed[-1])
    assert [name for name, _ in calls] == ["Export", "ImportMedia", "ImportTimelineFromFile"]
    assert Path(calls[2][1]) == output / "Reel 1" / "Reel 1 Foley.otio"
    assert len(foley_files(Path(calls[2][1]))) == 4


def test_the_dialog_after_a_real_run_renders_from_the_scripts_own_layout(
    server: FoleyServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """host.main, dialog included, through the UIManager stand-in: the editor types a prompt,
    picks the engine and presses Generate; the run is real. Its windows are then rendered to
    HTML and screenshotted (FOLEY_RESOLVE_SCREENSHOT=docs/resolve-dialog.png keeps the picture
    for the docs)."""
    home = tmp_path / "home"
    settings = home / ".config" / "foley-backend" / "resolve.json"
    settings.parent.mkdir(parents=True)
    output = tmp_path / "Foley"
    settings.write_text(json.dumps({"server": server.address, "output_folder": str(output)}))
    monkeypatch.setenv("HOME", str(home))

    def editor(window: StandInWindow) -> str:
        items = window.GetItems()
        if window.ID != "FoleyWindow":
            return "ok"
        items["prompt"].Text = "footsteps on gravel"
        items["engine"].CurrentIndex = items["engine"].items.index("procedural")
        return "generate"

    bmd = StandInBmd(editor)
    resolve = StandInResolve("Reel 1", TIMELINES / "simple_cut.otio")
    console = io.StringIO()
    with contextlib.redirect_stdout(console):
        status = host.main(resolve, StandInFusion(), bmd)
    lines = console.getvalue().splitlines()
    assert status == 0, lines

    dialog, outcome = bmd.shots
    assert (dialog.window_id, dialog.pressed, outcome.window_id) == (
        "FoleyWindow",
        "generate",
        "FoleyMessage",
    )
    fields = {widget.ID: widget for widget in dialog.root.walk() if widget.ID}
    assert set(DIALOG_FIELDS) <= set(fields)
    assert fields["server"].Text == server.address
    assert fields["output"].Text == str(output)
    assert fields["engine"].CurrentText == "procedural"
    assert "auto" in fields["preset"].items  # the drop-down lists the server's presets
    assert fields["status"].Text == ""  # the server answered
    message = outcome.root.children[0].Text
    assert message == "Foley for 4 clips (1 from the cache). New timeline: 'Reel 1 Foley'."
    assert lines[-1] == message and "Foley: [4/4] 100 % done" in "\n".join(lines)
    assert json.loads(settings.read_text())["prompt"] == "footsteps on gravel"
    imported = [call for call in resolve.calls if call[0] == "ImportMedia"]
    assert len(imported[0][2]) == 4 and all(Path(path).is_file() for path in imported[0][2])

    page = tmp_path / "resolve-dialog.html"
    page.write_text(page_html(bmd.shots, lines), encoding="utf-8")
    text = page.read_text(encoding="utf-8")
    for field in (*DIALOG_FIELDS, "generate", "cancel", "ok"):
        assert f'data-id="{field}"' in text
    assert 'value="footsteps on gravel"' in text and "<option selected>procedural</option>" in text
    assert html.escape(message) in text and "[4/4] 100 %" in text
    assert f'value="{html.escape(server.address)}"' in text

    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium): HTML checked only")
    png = tmp_path / "resolve-dialog.png"
    screenshot(page, png, CHROMIUM)
    assert png_size(png) == PAGE_SIZE
    assert png.stat().st_size > 20_000  # a blank page of this size is a few kB
    if os.environ.get("FOLEY_RESOLVE_SCREENSHOT"):
        shutil.copyfile(png, os.environ["FOLEY_RESOLVE_SCREENSHOT"])
