"""What a killed server left is removed at the next start: only our temporary names, only under
our roots, and said in the log (issue 15, "Crash leftovers")."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plugin_server.server.config import ServerConfig
from plugin_server.server.leftovers import OUTPUT_ROOT_MIN_AGE_S, is_partial_name
from plugin_server.server.service import FoleyService

# A writer killed mid-file, as by kill -9: the real atomic writers, then os._exit.
_DIE_WRITING = """
import os, sys
from pathlib import Path
from plugin_server.pipeline.atomic import atomic_file
open_writers = []  # kept referenced: a collected writer would clean up after itself
for target in sys.argv[1:]:
    open_writers.append(atomic_file(Path(target)))
    stream = open_writers[-1].__enter__()
    stream.write(b"half a file" * 1000)
    stream.flush()
os._exit(9)
"""


def _die_writing(*targets: Path) -> None:
    completed = subprocess.run([sys.executable, "-c", _DIE_WRITING, *map(str, targets)])
    assert completed.returncode == 9


def _age(path: Path, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def _service(tmp_path: Path, media_root: Path) -> FoleyService:
    config = ServerConfig(
        media_roots=(media_root,),
        work_dir=tmp_path / "work",
        output_root=tmp_path / "output",
        device="cpu",
        workers=1,
    )
    return FoleyService(config)


def test_a_killed_servers_temporary_files_and_job_folders_are_removed(
    tmp_path: Path, media_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    job_dir = tmp_path / "work" / "jobs" / "0123456789abcdef"
    delivered = tmp_path / "output" / "reel1"
    job_dir.mkdir(parents=True)
    delivered.mkdir(parents=True)
    _die_writing(job_dir / "001_V1_shot.wav", delivered / "002_V1_shot.wav")
    leftovers = sorted(p for p in tmp_path.rglob("*") if is_partial_name(p.name))
    assert len(leftovers) == 2
    for path in leftovers:
        _age(path, OUTPUT_ROOT_MIN_AGE_S + 5)
    # Ours only: files of the studio and a folder that is not a job id stay.
    kept = [
        delivered / "notes.partial.txt",
        delivered / ".DS_Store",
        delivered / "final.wav",
        tmp_path / "work" / "jobs" / "not-a-job" / "x.wav",
        media_root / ".shot.mov.abcdefgh.partial",  # under a media root: never touched
    ]
    for path in kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"keep")
        _age(path, OUTPUT_ROOT_MIN_AGE_S + 5)

    caplog.set_level("INFO")
    service = _service(tmp_path, media_root)
    try:
        assert not job_dir.exists()
        assert not any(path.exists() for path in leftovers)
        assert all(path.exists() for path in kept)
        messages = " ".join(record.getMessage() for record in caplog.records)
        # The partial file inside the job folder went with the folder.
        assert "1 job folder(s), 1 temporary file(s)" in messages
    finally:
        service.close(timeout_s=5)


def test_fresh_temporary_files_in_the_output_root_are_left_to_their_writer(
    tmp_path: Path, media_root: Path
) -> None:
    (tmp_path / "output").mkdir()
    _die_writing(tmp_path / "output" / "a.wav")
    (fresh,) = [p for p in (tmp_path / "output").iterdir() if is_partial_name(p.name)]
    service = _service(tmp_path, media_root)
    try:
        assert fresh.exists()  # another server sharing the output root may be writing it
    finally:
        service.close(timeout_s=5)


def test_a_second_server_on_the_same_work_dir_removes_nothing(
    tmp_path: Path, media_root: Path
) -> None:
    first = _service(tmp_path, media_root)
    try:
        job_dir = tmp_path / "work" / "jobs" / "fedcba9876543210"
        job_dir.mkdir(parents=True)
        (job_dir / "001_V1_shot.wav").write_bytes(b"the first server's job")
        second = _service(tmp_path, media_root)
        second.close(timeout_s=5)
        assert job_dir.exists()
    finally:
        first.close(timeout_s=5)


@pytest.mark.parametrize(
    ("name", "ours"),
    [
        (".001_V1_shot.partial-kq3oz0h6.wav", True),  # pipeline/atomic.py
        (".001_V1_shot.wav.a1b2c3d4.partial", True),  # media/audio_out.py, timeline writers
        (".edit_foley.otio.x_9y8z7w.partial", True),
        ("notes.partial.txt", False),
        (".partial", False),
        ("take.partial-1.wav", False),  # not hidden: a studio's own file
        (".001_V1_shot.partial-KQ3OZ0H6.wav", False),  # mkstemp never uses capitals
    ],
)
def test_only_our_temporary_names_count_as_leftovers(name: str, ours: bool) -> None:
    assert is_partial_name(name) is ours
