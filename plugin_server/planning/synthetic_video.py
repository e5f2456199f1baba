"""A synthetic video for benchmarks and tests: a bright box sweeping over a colour gradient.

Cheap to draw at any size (one array copy per frame), so a 30 s 1080p clip encodes in seconds,
and it changes every frame, so the decoder and encoders do real work. Frame k has presentation
time k / fps exactly.
"""

from __future__ import annotations

import os
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np


def write_synthetic_video(
    path: Path, *, duration_s: float, width: int = 1920, height: int = 1080, fps: int = 25
) -> Path:
    """Encode `duration_s` seconds of H.264 (yuv420p) at width x height and `fps` to `path`.

    The file appears under its final name only once complete.
    """
    import av

    if width % 2 or height % 2 or width < 16 or height < 16:
        raise ValueError(f"video size must be even and at least 16x16, got {width}x{height}")
    if not duration_s > 0:
        raise ValueError(f"video duration must be positive, got {duration_s!r} s")
    frames = max(1, round(duration_s * fps))
    rows, columns = np.mgrid[0:height, 0:width]
    background = np.stack(
        [columns * 255 // width, rows * 255 // height, np.full_like(columns, 80)], axis=-1
    ).astype(np.uint8)
    box = max(8, height // 5)
    path = Path(path)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent
    )
    os.close(handle)
    try:
        with av.open(temporary, mode="w") as container:
            stream = container.add_stream(
                "libx264", rate=fps, options={"preset": "ultrafast", "crf": "23"}
            )
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.codec_context.time_base = Fraction(1, fps)
            for index in range(frames):
                picture = background.copy()
                left = (index * 37) % max(1, width - box)
                top = (height - box) // 2
                picture[top : top + box, left : left + box] = (240, 200, 40)
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                frame.pts = index
                frame.time_base = stream.codec_context.time_base
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
