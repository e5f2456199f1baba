"""`foley-server spot` reads a media file's own start timecode when the timeline gives none."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio


def _write_mov_with_timecode(path: Path, timecode: str, frames: int = 48) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 64, 36, "yuv420p"
        stream.metadata["timecode"] = timecode
        for index in range(frames):
            picture = np.full((36, 64, 3), index * 5 % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_spot_uses_the_file_start_timecode_when_the_timeline_has_no_available_range(
    tmp_path: Path,
) -> None:
    media = tmp_path / "shot.mov"
    _write_mov_with_timecode(media, "01:00:10:12")
    # The clip plays from 01:00:11:00 in the media's timecode space: 12 frames (0.5 s) into
    # the file. The reference has no available_range, so only the file can say where 0 is.
    clip = otio.schema.Clip(
        name="shot",
        media_reference=otio.schema.ExternalReference(target_url="/Volumes/Edit/shot.mov"),
        source_range=otio.opentime.TimeRange(
            otio.opentime.from_timecode("01:00:11:00", 24),
            otio.opentime.RationalTime(24, 24),
        ),
    )
    timeline = otio.schema.Timeline(name="tc")
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(clip)
    timeline.tracks.append(track)
    path = tmp_path / "tc.otio"
    otio.adapters.write_to_file(timeline, str(path))

    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "plugin_server.cli",
            "spot",
            str(path),
            "--json",
            "--media-root",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    rows = json.loads(completed.stdout)
    assert len(rows) == 1
    assert rows[0]["status"] == "spotted"
    assert rows[0]["media_path"] == str(media)
    assert abs(rows[0]["media_start_s"] - 0.5) < 1e-6
    assert abs(rows[0]["media_duration_s"] - 1.0) < 1e-6
