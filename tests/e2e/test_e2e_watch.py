"""`foley-server watch`: a real watcher process, real timelines dropped into its folder, results
read back in their own format; in-process and against a real server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from e2e_support import TIMELINES, many_clip_timeline, partial_files, read_wav_info

from plugin_server.server.app import FoleyServer
from plugin_server.watch.state import STATE_NAME
from timeline.formats import read_timeline
from timeline.relink import url_to_path

pytestmark = pytest.mark.slow

# Short settle and poll times keep the tests quick; the defaults (2 s, 1 s) suit real exports.
FAST = ["--settle", "0.5", "--poll", "0.2", "--device", "cpu", "--workers", "1"]


class Watcher:
    """A `foley-server watch` subprocess whose log goes to a file."""

    def __init__(self, in_dir: Path, out_dir: Path, *options: str, log: Path) -> None:
        script = Path(sys.executable).with_name("foley-server")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "plugin_server.cli"]
        self.log_path = log
        with open(log, "ab") as output:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [*command, "--log-level", "INFO", "watch", str(in_dir), str(out_dir), *options],
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, text: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.log():
            assert self.process.poll() is None, f"watcher exited early:\n{self.log()}"
            late = f"{text!r} not logged within {timeout_s} s:\n{self.log()}"
            assert time.monotonic() < deadline, late
            time.sleep(0.05)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    in_dir, out_dir = tmp_path / "in", tmp_path / "out"
    in_dir.mkdir()
    return in_dir, out_dir


@pytest.fixture
def start_watcher(
    folders: tuple[Path, Path], media_root: Path, tmp_path: Path
) -> Iterator[Callable[..., Watcher]]:
    watchers: list[Watcher] = []

    def start(*options: str, media: bool = True) -> Watcher:
        in_dir, out_dir = folders
        extra = ["--media-root", str(media_root)] if media else []
        watcher = Watcher(
            in_dir, out_dir, *FAST, *extra, *options, log=tmp_path / f"watch{len(watchers)}.log"
        )
        watchers.append(watcher)
        watcher.wait_for_log("watching ")
        return watcher

    yield start
    for watcher in watchers:
        if watcher.process.poll() is None:
            watcher.process.kill()
            watcher.process.wait()


def wait_for_status(path: Path, timeout_s: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"no {path.name} within {timeout_s} s"
        time.sleep(0.05)
    return json.loads(path.read_text(encoding="utf-8"))


def drop(source: Path, in_dir: Path, name: str | None = None) -> Path:
    """Copy a timeline in the way exporters do: a temporary name, renamed when complete."""
    target = in_dir / (name or source.name)
    temporary = in_dir / f".{target.name}.tmp"
    shutil.copyfile(source, temporary)
    os.replace(temporary, target)
    return target


def foley_clip_files(result: Path) -> list[Path]:
    """The files that audio clips of the result timeline play from `<result stem>_audio/`
    (the Foley; the edit's own audio lives elsewhere). Each must exist."""
    audio_dir = result.with_name(f"{result.stem}_audio")
    files = []
    for track in read_timeline(result).timeline.audio_tracks():
        for clip in track.find_clips():
            url = getattr(clip.media_reference, "target_url", None) or ""
            path = Path(url_to_path(url)) if url else None
            if path is not None and path.parent == audio_dir:
                assert path.is_file(), f"{result.name} names {path}, which does not exist"
                files.append(path)
    return files


def test_a_dropped_edit_comes_back_in_its_own_format_within_seconds(
    start_watcher: Callable[..., Watcher], folders: tuple[Path, Path]
) -> None:
    in_dir, out_dir = folders
    watcher = start_watcher()
    dropped = time.monotonic()
    drop(TIMELINES / "premiere_example.xml", in_dir)
    status = wait_for_status(out_dir / "premiere_example.json")
    elapsed = time.monotonic() - dropped
    print(f"premiere_example.xml: drop to status {elapsed:.2f} s (procedural, this machine)")
    assert elapsed < 15.0
    assert status["outcome"] == "done" and status["result"] == "premiere_example.xml"
    clips = status["clips"]
    assert clips["failed"] == 0 and clips["skipped"] >= 1  # its slug has no picture
    assert [p["kind"] for p in status["problems"]] == ["skipped"] * clips["skipped"]
    result = out_dir / "premiere_example.xml"
    assert read_timeline(result).format == "fcp_xml"
    audio = foley_clip_files(result)
    assert len(audio) == clips["generated"] + clips["cached"] >= 6
    assert all(read_wav_info(path).sample_rate == 48_000 for path in audio)
    assert partial_files(out_dir) == []
    assert watcher.stop() == 0
    assert "stopped: 1 timelines processed" in watcher.log()


def test_a_restart_does_not_process_a_file_twice_but_a_changed_export_again(
    start_watcher: Callable[..., Watcher], folders: tuple[Path, Path]
) -> None:
    in_dir, out_dir = folders
    source = drop(TIMELINES / "simple_cut.otio", in_dir)
    first = start_watcher()
    wait_for_status(out_dir / "simple_cut.json")
    assert first.stop() == 0
    status_before = (out_dir / "simple_cut.json").stat().st_mtime_ns
    os.utime(source)  # a new mtime, same content: recognised by its hash

    second = start_watcher()
    time.sleep(2.0)  # four settle times: long enough to have picked it up again
    assert (out_dir / "simple_cut.json").stat().st_mtime_ns == status_before
    assert "processing" not in second.log()

    document = json.loads(source.read_text(encoding="utf-8"))
    document["name"] = "simple cut, take 2"  # a re-export: other content, same file name
    temporary = in_dir / ".simple_cut.otio.part"
    temporary.write_text(json.dumps(document), encoding="utf-8")
    os.replace(temporary, source)
    second.wait_for_log("simple_cut.otio: done")
    assert second.stop() == 0
    assert "stopped: 1 timelines processed" in second.log()
    state = json.loads((out_dir / STATE_NAME).read_text(encoding="utf-8"))
    assert [entry["name"] for entry in state["entries"]] == ["simple_cut.otio"]


def test_hidden_and_temporary_files_are_ignored(
    start_watcher: Callable[..., Watcher], folders: tuple[Path, Path]
) -> None:
    in_dir, out_dir = folders
    for name in (
        ".hidden.otio",
        "~lock.otio",
        "cut.otio.tmp",
        "cut.otio.part",
        "cut.otio.crdownload",
        "notes.txt",
    ):
        shutil.copyfile(TIMELINES / "simple_cut.otio", in_dir / name)
    drop(TIMELINES / "simple_cut.otio", in_dir, "real.otio")
    watcher = start_watcher("--once")
    assert watcher.process.wait(timeout=60) == 0
    visible = sorted(path.name for path in out_dir.iterdir() if not path.name.startswith("."))
    assert visible == ["real.json", "real.otio", "real_audio"]


def test_a_file_still_being_written_is_not_picked_early(
    start_watcher: Callable[..., Watcher], folders: tuple[Path, Path]
) -> None:
    in_dir, out_dir = folders
    watcher = start_watcher("--settle", "1.0")
    data = (TIMELINES / "simple_cut.otio").read_bytes()
    target = in_dir / "slow_export.otio"

    def write_slowly() -> None:
        # Pauses shorter than the settle time, spread over 2 s: a slow export or copy.
        with open(target, "wb") as file:
            step = len(data) // 8 + 1
            for offset in range(0, len(data), step):
                file.write(data[offset : offset + step])
                file.flush()
                time.sleep(0.25)

    writer = threading.Thread(target=write_slowly)
    writer.start()
    writer.join()
    status = wait_for_status(out_dir / "slow_export.json")
    assert status["outcome"] == "done", status["errors"]
    assert watcher.log().count("slow_export.otio is complete") == 1
    assert watcher.stop() == 0


def test_done_sidecar_is_required_when_asked_for(
    start_watcher: Callable[..., Watcher], folders: tuple[Path, Path]
) -> None:
    in_dir, out_dir = folders
    watcher = start_watcher("--require-done")
    drop(TIMELINES / "simple_cut.otio", in_dir)
    time.sleep(1.5)
    assert not (out_dir / "simple_cut.json").exists()
    marker = in_dir / "simple_cut.otio.done"
    marker.touch()
    first = wait_for_status(out_dir / "simple_cut.json")
    assert first["outcome"] == "done"

    # A re-export under the same name while the old sidecar is still there: the sidecar is
    # older than the new file, so it does not count until it is written again.
    time.sleep(0.05)
    document = json.loads((TIMELINES / "simple_cut.otio").read_text(encoding="utf-8"))
    document["name"] = "take 2"
    (in_dir / "simple_cut.otio").write_text(json.dumps(document), encoding="utf-8")
    time.sleep(1.5)
    assert (
        json.loads((out_dir / "simple_cut.json").read_text())["input_sha256"]
        == first["input_sha256"]
    )
    marker.touch()
    watcher.wait_for_log("simple_cut.otio: done", timeout_s=30)
    deadline = time.monotonic() + 30
    while watcher.log().count("simple_cut.otio: done") < 2:
        assert time.monotonic() < deadline, watcher.log()
        time.sleep(0.05)
    second = json.loads((out_dir / "simple_cut.json").read_text())
    assert second["input_sha256"] != first["input_sha256"]
    assert watcher.stop() == 0


def test_many_files_at_once_all_come_back_and_a_bad_one_fails_alone(
    start_watcher: Callable[..., Watcher], folders: tuple[Path, Path]
) -> None:
    in_dir, out_dir = folders
    (in_dir / "damaged.aaf").write_bytes(b"not an AAF at all" * 100)
    (in_dir / "truncated.otio").write_text('{"OTIO_SCHEMA": "Timeline.1", "tracks":', "utf-8")
    names = [f"reel{index:02d}.otio" for index in range(6)]
    for name in names:
        drop(TIMELINES / "simple_cut.otio", in_dir, name)
    watcher = start_watcher("--jobs", "3", "--once")
    assert watcher.process.wait(timeout=120) == 0
    damaged = json.loads((out_dir / "damaged.json").read_text())
    assert damaged["outcome"] == "failed" and damaged["result"] is None
    assert "damaged.aaf" in damaged["errors"][0]
    truncated = json.loads((out_dir / "truncated.json").read_text())
    assert truncated["outcome"] == "failed" and "truncated.otio" in truncated["errors"][0]
    assert not (out_dir / "damaged.aaf").exists() and not (out_dir / "truncated.otio").exists()
    statuses = [json.loads((out_dir / f"{Path(n).stem}.json").read_text()) for n in names]
    assert [status["outcome"] for status in statuses] == ["done"] * 6
    # One shared result cache: a clip is generated once, or a few times when jobs race for
    # it, and never lost; each result has its own four files.
    assert sum(s["clips"]["generated"] + s["clips"]["cached"] for s in statuses) == 24
    assert sum(s["clips"]["cached"] for s in statuses) >= 24 - 3 * 4
    for name in names:
        assert len(foley_clip_files(out_dir / name)) == 4
    assert "stopped: 8 timelines processed" in watcher.log()


def test_sigterm_during_a_job_leaves_nothing_half_written_and_it_is_redone(
    start_watcher: Callable[..., Watcher], folders: tuple[Path, Path], media_root: Path
) -> None:
    in_dir, out_dir = folders
    # 30 clips of 2 s on one worker: seconds of work, so the stop lands in the middle of it.
    data = many_clip_timeline((media_root / "long.mov").as_uri(), clips=30, clip_frames=48)
    (in_dir / "long_job.otio").write_bytes(data)
    watcher = start_watcher("--shutdown-grace", "0", "--no-cache")
    watcher.wait_for_log("clip done")
    assert watcher.stop() == 0
    assert "cancelled; it will be processed on the next start" in watcher.log()
    assert not (out_dir / "long_job.json").exists()
    assert not (out_dir / "long_job.otio").exists()
    assert partial_files(out_dir) == []
    again = start_watcher("--once")
    assert again.process.wait(timeout=120) == 0
    status = json.loads((out_dir / "long_job.json").read_text())
    assert status["outcome"] == "done" and status["clips"]["generated"] == 30


def test_watching_through_a_real_server(
    start_server: Callable[..., FoleyServer],
    start_watcher: Callable[..., Watcher],
    folders: tuple[Path, Path],
) -> None:
    in_dir, out_dir = folders
    server = start_server(max_jobs=1)
    for name in ("transitions.aaf", "simple_cut.otio", "fcpx_clips.fcpxml"):
        drop(TIMELINES / name, in_dir)
    watcher = start_watcher("--server", server.address, "--jobs", "3", "--once", media=False)
    assert watcher.process.wait(timeout=120) == 0
    assert "the server admits 1 jobs at once" in watcher.log()
    for name, kind in (
        ("transitions.aaf", "aaf"),
        ("simple_cut.otio", "otio"),
        ("fcpx_clips.fcpxml", "fcpxml"),
    ):
        status = json.loads((out_dir / f"{Path(name).stem}.json").read_text())
        assert status["outcome"] == "done", status
        assert status["runner"] == f"server {server.address}"
        assert status["result_format"] == kind
        result = out_dir / name
        assert read_timeline(result).format == kind
        generated = status["clips"]["generated"] + status["clips"]["cached"]
        assert generated > 0 and len(foley_clip_files(result)) == generated


def test_refuses_unusable_options(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "plugin_server.cli", "watch", str(tmp_path), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "IN_DIR and OUT_DIR must be different folders" in result.stderr
