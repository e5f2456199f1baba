"""The Premiere Pro panel (plugins/premiere), built, in headless Chromium, against a real server.

The panel's browser host stands in for Premiere (a file chooser for "export the active sequence",
downloads for "import into the project"); everything else is the code Premiere runs. The server is
a real `foley-server serve --http-port` subprocess with the procedural engine, a bearer token and
CORS for the panel's origin only; the panel page comes from a small static server; Debian's
`chromium` is driven by playwright-core (tests/browser/drive_panel.mjs), which reports what it saw
and this test asserts on it.

Needs `node`/`npm` and `/usr/bin/chromium` (CI: `apt-get install chromium`, `npm ci` in
plugins/premiere); skipped, with the reason, only where they are absent.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from e2e_support import TIMELINES, many_clip_timeline, read_wav_info

REPO = Path(__file__).resolve().parents[2]
PANEL = REPO / "plugins" / "premiere"
DRIVER = REPO / "tests" / "browser" / "drive_panel.mjs"
CHROMIUM = Path(os.environ.get("FOLEY_CHROMIUM", "/usr/bin/chromium"))
NODE = shutil.which("node")
NPM = shutil.which("npm")
TOKEN = "panel-test-token"
LONG_JOB_CLIPS = 60

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(NODE is None or NPM is None, reason="node and npm are not installed"),
]
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
)


def _npm(*args: str, timeout_s: float = 180) -> None:
    """Run npm in the panel folder; a failure shows npm's own output."""
    assert NPM is not None
    done = subprocess.run(
        [NPM, *args], cwd=PANEL, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    assert done.returncode == 0, f"npm {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def built_panel() -> Path:
    """plugins/premiere/dist, bundled now from the sources under test (type-checked below)."""
    if not (PANEL / "node_modules" / "playwright-core").is_dir():
        pytest.fail("plugins/premiere/node_modules is missing: run `npm ci` in plugins/premiere")
    _npm("run", "bundle")
    return PANEL / "dist"


@pytest.fixture
def panel_url(built_panel: Path) -> Iterator[str]:
    """The built panel served over HTTP on a free loopback port."""
    handler = functools.partial(_QuietHandler, directory=str(built_panel))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/index.html"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_server(tmp_path: Path, media_root: Path, panel_url: str) -> Iterator[str]:
    """`foley-server serve --http-port 0` with a token and CORS for the panel's origin only."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    origin = re.match(r"https?://[^/]+", panel_url)
    assert origin is not None
    command = [
        sys.executable, "-m", "plugin_server.cli", "serve",
        "--port", "0", "--http-port", "0", "--cors-origin", origin.group(0),
        "--media-root", str(media_root), "--output-root", str(tmp_path / "output"),
        "--work-dir", str(tmp_path / "work"), "--auth-token-file", str(token_file),
        "--engine", "procedural", "--workers", "1",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("FOLEY_AUTH_TOKEN", None)
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        url = _http_url(process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _http_url(process: subprocess.Popen[str]) -> str:
    """The `http on URL` line serve prints once it listens (stdout; stderr has the logs)."""
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            stderr = process.stderr.read() if process.stderr else ""
            pytest.fail(f"foley-server serve exited ({process.poll()}) before listening:\n{stderr}")
        match = re.match(r"http on (\S+)", line.strip())
        if match:
            return match.group(1)
    pytest.fail("foley-server serve printed no `http on URL` line within 60 s")


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _drive(config: dict[str, object], tmp_path: Path) -> dict[str, object]:
    """Run the browser driver; return its observations (it writes them to a JSON file)."""
    assert NODE is not None
    result = tmp_path / "seen.json"
    config_path = tmp_path / "drive.json"
    config_path.write_text(json.dumps({**config, "result": str(result)}), encoding="utf-8")
    done = subprocess.run(
        [NODE, str(DRIVER), str(config_path)],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and result.exists(), f"driver failed:\n{done.stderr[-4000:]}"
    seen: dict[str, object] = json.loads(result.read_text(encoding="utf-8"))
    assert "error" not in seen, f"{seen['error']}\nbrowser console: {seen.get('console')}"
    return seen


@needs_chromium
def test_panel_generates_cancels_and_reports_errors_in_chromium(
    http_server: str, panel_url: str, media_root: Path, tmp_path: Path
) -> None:
    long_timeline = tmp_path / "long_job.otio"
    long_timeline.write_bytes(
        many_clip_timeline("file:///any/where/long.mov", LONG_JOB_CLIPS, clip_frames=48)
    )
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    screenshot = tmp_path / "premiere-panel.png"
    unreachable = f"http://127.0.0.1:{_closed_port()}"
    seen = _drive(
        {
            "panelDir": str(PANEL),
            "chromium": str(CHROMIUM),
            "panelUrl": panel_url,
            "serverUrl": http_server,
            "token": TOKEN,
            "unreachableUrl": unreachable,
            "timeline": str(TIMELINES / "premiere_example.xml"),
            "longTimeline": str(long_timeline),
            "userDataDir": str(tmp_path / "chromium-profile"),
            "downloadDir": str(downloads),
            "screenshot": str(screenshot),
            "timeoutMs": 90_000,
        },
        tmp_path,
    )

    # Errors read as sentences naming the server, not as codes or stack traces.
    assert seen["unreachable"] == {
        "kind": "error",
        "text": f"Cannot reach the Foley server at {unreachable}. Is `foley-server serve "
        "--http-port` running there, and does its --cors-origin allow this panel?",
    }
    for refusal in (seen["refusedToken"], seen["refusedTokenGenerate"]):
        assert isinstance(refusal, dict) and refusal["kind"] == "error"
        assert refusal["text"].startswith(f"The server at {http_server} refused the token (")
        assert "Check the token in Settings" in refusal["text"]

    # The right token: connected, engines listed by the server.
    assert seen["connected"] == {"kind": "done", "text": f"Connected to {http_server}."}
    assert "procedural" in seen["engines"]

    # Cancel: the job stops long before its 60 clips; the rest are reported cancelled.
    cancel = seen["cancel"]
    assert isinstance(cancel, dict) and cancel["kind"] == "info", cancel
    # "N of 60 clip(s) had finished" comes from the server's summary: CancelJob stopped the job
    # on the server, the stream ended normally (no client-side abort).
    assert re.fullmatch(
        rf"Cancelled\. \d+ of {LONG_JOB_CLIPS} clip\(s\) had finished\.", cancel["text"]
    )
    states = [row["state"] for row in seen["cancelRows"]]  # type: ignore[union-attr]
    assert len(states) == LONG_JOB_CLIPS
    assert "cancelled" in states
    assert 1 <= states.count("generated") + states.count("cached") < LONG_JOB_CLIPS
    assert seen["cancelOverall"] < 100
    assert seen["cancelSeconds"] < 10

    # The full job: 100 %, every generated clip finished, the result offered for download.
    generate = seen["generate"]
    assert isinstance(generate, dict) and generate["kind"] == "done", generate
    assert generate["text"].startswith("Done in ")
    samples = seen["progressSamples"]
    assert isinstance(samples, list) and samples == sorted(samples), samples
    assert seen["overall"] == 100
    assert str(seen["overallText"]).startswith("100 %")
    rows = seen["rows"]
    assert isinstance(rows, list)
    counted = [row for row in rows if row["state"] != "skipped"]
    assert counted and all(row["state"] in ("generated", "cached") for row in counted), rows
    assert all(row["percent"] == 100 for row in counted)
    links = seen["links"]
    assert isinstance(links, list)
    audio_links = [link for link in links if link["role"] == "result-audio"]
    assert len(audio_links) == len(counted)
    assert [link["role"] for link in links].count("result-timeline") == 1

    # What a user downloads is a real 48 kHz Broadcast WAV, and the result timeline (FCP XML in,
    # FCP XML out) points at the audio by its bare file name.
    wav = Path(str(seen["downloadedAudio"]))
    info = read_wav_info(wav)
    assert info.sample_rate == 48000 and info.frames > 0
    assert wav.stat().st_size == next(
        link["bytes"] for link in audio_links if link["name"] == wav.name
    )
    result_text = str(seen["resultTimelineText"])
    assert result_text.lstrip().startswith("<?xml") and "<xmeml" in result_text
    assert wav.name in result_text

    # Settings persist (localStorage), and survive a reload.
    persisted = json.loads(str(seen["persistedSettings"]))
    assert persisted["serverAddress"] == http_server and persisted["token"] == TOKEN
    assert persisted["engine"] == "procedural"
    assert seen["reloadedAddress"] == http_server
    assert seen["reloadedPrompt"] == "footsteps on a wooden floor"
    assert seen["generateLabel"] == "Generate Foley for the chosen timeline"
    assert screenshot.stat().st_size > 10_000
    if os.environ.get("FOLEY_PANEL_SCREENSHOT"):
        # `make panel-screenshot`-style refresh of docs/premiere-panel.png from this very run.
        shutil.copyfile(screenshot, os.environ["FOLEY_PANEL_SCREENSHOT"])


def test_panel_type_checks_and_its_unit_tests_pass() -> None:
    """tsc over the panel and its tests, then its unit tests (progress model, Connect client on a
    fake fetch, settings) under node --test."""
    if not (PANEL / "node_modules").is_dir():
        pytest.fail("plugins/premiere/node_modules is missing: run `npm ci` in plugins/premiere")
    _npm("run", "typecheck")
    _npm("test")


def test_generated_typescript_matches_the_proto(tmp_path: Path) -> None:
    """src/gen is what protoc-gen-es makes of protos/foley/v1/foley.proto today."""
    if not (PANEL / "node_modules" / ".bin" / "protoc-gen-es").exists():
        pytest.fail("plugins/premiere/node_modules is missing: run `npm ci` in plugins/premiere")
    plugin = PANEL / "node_modules" / ".bin" / "protoc-gen-es"
    done = subprocess.run(
        [
            sys.executable, "-m", "grpc_tools.protoc", f"--plugin=protoc-gen-es={plugin}",
            f"--es_out={tmp_path}", "--es_opt=target=ts", f"--proto_path={REPO / 'protos'}",
            "foley/v1/foley.proto",
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    committed = PANEL / "src" / "gen" / "foley" / "v1" / "foley_pb.ts"
    assert (tmp_path / "foley" / "v1" / "foley_pb.ts").read_text() == committed.read_text(), (
        "plugins/premiere/src/gen is stale: run `npm run proto` in plugins/premiere"
    )
