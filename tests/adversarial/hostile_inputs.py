"""The hostile corpus, generated: each function builds one input the adversarial review used.

Kept as code rather than files: the damaged AAF is a real sample with 8 bytes changed, the
.otioz inflates to megabytes from a few kilobytes, and the timelines are a few lines of OTIO.
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import opentimelineio as otio

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange

TIMELINES = Path(__file__).resolve().parents[1] / "data" / "timelines"
# The stream size written into the damaged AAF: pyaaf2 allocates this before failing.
AAF_CLAIMED_STREAM_BYTES = 0x9000_0000  # 2.4 GB


def damaged_aaf() -> bytes:
    """one_clip.aaf with one directory entry's stream size (8 bytes) set to 2.4 GB.

    The compound file's directory starts at the sector the header names; entry 5 is a
    `properties` stream that pyaaf2 reads whole into one bytearray of the claimed size.
    """
    data = bytearray((TIMELINES / "one_clip.aaf").read_bytes())
    sector_size = 1 << struct.unpack_from("<H", data, 0x1E)[0]
    directory = (struct.unpack_from("<I", data, 0x30)[0] + 1) * sector_size
    entry = directory + 5 * 128
    assert data[entry + 66] == 2, "entry 5 of one_clip.aaf is no longer a stream"
    struct.pack_into("<Q", data, entry + 120, AAF_CLAIMED_STREAM_BYTES)
    return bytes(data)


def timeline_bytes(
    urls: list[str],
    *,
    rate: float = 24,
    track_start_frames: int | None = None,
    nesting: int = 0,
    clip_frames: int = 12,
    metadata_bytes: int = 0,
) -> bytes:
    """An OTIO timeline of one video track with a clip per URL.

    `track_start_frames` gives the track a source range starting there (negative: before the
    timeline's zero); `nesting` wraps the first clip in that many stacks; `metadata_bytes`
    adds a note of that size to the timeline (it is carried into the result).
    """
    timeline = otio.schema.Timeline(name="hostile")
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for index, url in enumerate(urls):
        item: otio.core.Composable = otio.schema.Clip(
            name=f"shot{index}",
            media_reference=otio.schema.ExternalReference(target_url=url),
            source_range=TR(RT(index, rate), RT(clip_frames, rate)),
        )
        if index == 0:
            for _ in range(nesting):
                stack = otio.schema.Stack()
                stack.append(item)
                item = stack
        track.append(item)
    if track_start_frames is not None:
        track.source_range = TR(RT(track_start_frames, rate), RT(clip_frames * len(urls), rate))
    if metadata_bytes:
        timeline.metadata["note"] = "n" * metadata_bytes
    timeline.tracks.append(track)
    return otio.adapters.write_to_string(timeline, "otio_json").encode()


def whitespace_otioz(content: bytes, padding_bytes: int) -> bytes:
    """An .otioz whose content.otio is `padding_bytes` of spaces before a valid timeline."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("version.txt", "1.0.0")
        archive.writestr(
            "content.otio", b" " * padding_bytes + content, compress_type=zipfile.ZIP_DEFLATED
        )
    return buffer.getvalue()


def understated_otioz(content: bytes, padding_bytes: int, claimed_bytes: int) -> bytes:
    """whitespace_otioz whose headers claim content.otio is only `claimed_bytes` long."""
    data = bytearray(whitespace_otioz(content, padding_bytes))
    real = struct.pack("<I", padding_bytes + len(content))
    claimed = struct.pack("<I", claimed_bytes)
    # The uncompressed size sits in the local header and in the central directory entry.
    start = 0
    while (found := data.find(real, start)) >= 0:
        data[found : found + 4] = claimed
        start = found + 4
    return bytes(data)


def metric(server: object, name: str, **labels: str) -> float:
    """The current value of one sample of a FoleyServer's Prometheus registry (0 if unset)."""
    registry = server.service.metrics.registry  # type: ignore[attr-defined]
    return registry.get_sample_value(name, labels or None) or 0.0
