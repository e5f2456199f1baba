"""Small real inputs for the ray executor tests: placeholder videos, many-clip timelines, and
engines that misbehave on purpose (they wrap the procedural engine, so their audio is its audio).

The engines travel to Ray actors by value (conftest registers this module with Ray's
cloudpickle), so the actors need not import anything from tests/.
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from plugin_server.demo.media import BouncingDisc, write_scene_video
from plugin_server.engines.base import (
    Cancelled,
    CancelToken,
    ClipAudio,
    ClipRequest,
    Engine,
    EngineError,
    EngineInfo,
    ProgressCallback,
)
from plugin_server.engines.registry import EngineConfig, create_engine
from plugin_server.pipeline.events import (
    ClipFailed,
    ClipFinished,
    ClipProgressed,
    PipelineEvent,
)
from plugin_server.pipeline.local import LocalRun
from plugin_server.pipeline.records import ClipOutcome, ClipProblem, JobSummary
from plugin_server.pipeline.request import GenerationRequest

FPS = 24
# Every test job asks the same: the local and Ray runs must then make the same audio.
PLAIN_REQUEST = GenerationRequest(prompt="footsteps on gravel", seed=7, use_cache=False)
RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange


def write_video(path: Path, seconds: float) -> Path:
    """A small (64x36) H.264 video of a disc hitting walls once a second."""
    frames = math.ceil(seconds * FPS)
    impacts = tuple(range(12, frames - 1, FPS)) or (frames // 2,)
    scene = BouncingDisc(fps=Fraction(FPS), num_frames=frames, impact_frames=impacts)
    return write_scene_video(path, scene, width=64, height=36).path


def many_clip_timeline(path: Path, media: list[Path], clips: int, clip_frames: int) -> Path:
    """An OTIO file of `clips` back-to-back clips taking turns over `media`; clip k plays
    frames k .. k + clip_frames of its file, so every clip makes different audio."""
    track = otio.schema.Track(name="V", kind=otio.schema.TrackKind.Video)
    for index in range(clips):
        source = media[index % len(media)]
        track.append(
            otio.schema.Clip(
                name=f"shot{index:03d}",
                media_reference=otio.schema.ExternalReference(target_url=source.as_uri()),
                source_range=TR(RT(index, FPS), RT(clip_frames, FPS)),
            )
        )
    timeline = otio.schema.Timeline(name="many", global_start_time=RT(3600 * FPS, FPS))
    timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(path))
    return path


def wav_chunks(path: Path) -> dict[bytes, bytes]:
    """Chunk id -> body of a RIFF/WAVE file."""
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", f"{path} is not a WAVE file"
    chunks = {}
    position = 12
    while position + 8 <= len(data):
        chunk_id = data[position : position + 4]
        (size,) = struct.unpack("<I", data[position + 4 : position + 8])
        chunks[chunk_id] = data[position + 8 : position + 8 + size]
        position += 8 + size + (size & 1)
    return chunks


def audio_digests(folder: Path) -> dict[str, str]:
    """File name -> SHA-256 of each WAV file's format, samples and time reference.

    The rest of the Broadcast WAV header is left out: its origination date and time say when
    the file was written, which differs between any two runs.
    """
    digests = {}
    for path in sorted(folder.glob("*.wav")):
        chunks = wav_chunks(path)
        time_reference = chunks[b"bext"][338:346]  # 64-bit TimeReference, samples since midnight
        digest = hashlib.sha256(chunks[b"fmt "] + chunks[b"data"] + time_reference)
        digests[path.name] = digest.hexdigest()
    return digests


def _media_name(request: ClipRequest) -> str:
    span = getattr(request.frames, "span", None)
    return span.path.name if span is not None else ""


class MisbehavingEngine:
    """The procedural engine, except:

    - while a file `crash-armed` exists in `marker_dir`, the first clip to start renames it to
      `crashed` and kills its process mid-clip (one clip, once per arming);

    and for clips of media whose file name says otherwise:

    - `poison*`: kills its process on every attempt;
    - `broken*`: fails with an EngineError (no process dies);
    - `slow-<seconds>*`: takes that long in 50 ms steps, honouring cancel, and leaves
      `cancelled-<clip id>` in `marker_dir` when a cancel stopped it.
    """

    def __init__(self, inner: Engine, marker_dir: Path) -> None:
        self.name = inner.name
        self._inner = inner
        self._marker_dir = marker_dir

    def info(self) -> EngineInfo:
        return self._inner.info()

    def generate(
        self,
        request: ClipRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ClipAudio:
        media = _media_name(request)
        report = progress or (lambda stage, percent: None)
        if self._first_since_armed():
            report("doomed", 50.0)
            time.sleep(1.0)  # long enough for the front end to see this clip running
            os._exit(1)
        if media.startswith("poison"):
            os._exit(1)
        if media.startswith("broken"):
            raise EngineError(f"clip {request.clip_id!r}: the test engine is broken on purpose")
        if media.startswith("slow-"):
            self._slowly(request, float(media.split("-")[1]), report, cancel)
        return self._inner.generate(request, progress=progress, cancel=cancel)

    def _first_since_armed(self) -> bool:
        try:  # a rename is atomic: of all clips racing for it, one wins
            os.rename(self._marker_dir / "crash-armed", self._marker_dir / "crashed")
        except FileNotFoundError:
            return False
        return True

    def _slowly(
        self,
        request: ClipRequest,
        seconds: float,
        progress: ProgressCallback,
        cancel: CancelToken | None,
    ) -> None:
        steps = max(1, round(seconds / 0.05))
        for step in range(steps):
            if cancel is not None and cancel.is_set():
                (self._marker_dir / f"cancelled-{request.clip_id}").touch()
                raise Cancelled(f"clip {request.clip_id!r} cancelled at step {step}")
            progress("slow", 100.0 * step / steps)
            time.sleep(0.05)


def misbehaving_factory(marker_dir: Path) -> Callable[[str, EngineConfig], Engine]:
    def make(name: str, config: EngineConfig) -> Engine:
        return MisbehavingEngine(create_engine(name, config), marker_dir)

    return make


def counting_factory(log_dir: Path) -> Callable[[str, EngineConfig], Engine]:
    """create_engine, leaving a file `<pid>-<engine>-<n>` in `log_dir` per engine made."""

    def make(name: str, config: EngineConfig) -> Engine:
        (log_dir / f"{os.getpid()}-{name}-{uuid.uuid4().hex[:8]}").touch()
        return create_engine(name, config)

    return make


@dataclass(frozen=True)
class JobRecord:
    """What a job reported: its summary and every event, in order."""

    summary: JobSummary
    events: tuple[PipelineEvent, ...]

    def outcomes(self) -> list[ClipOutcome]:
        return [event.outcome for event in self.events if isinstance(event, ClipFinished)]

    def problems(self) -> list[ClipProblem]:
        return [event.problem for event in self.events if isinstance(event, ClipFailed)]

    def stages(self, clip_id: str | None = None) -> list[str]:
        return [
            event.stage
            for event in self.events
            if isinstance(event, ClipProgressed) and clip_id in (None, event.clip_id)
        ]


def run_timeline(
    run: LocalRun,
    timeline: Path,
    out: Path,
    *,
    request: GenerationRequest = PLAIN_REQUEST,
    on_event: Callable[[PipelineEvent], None] | None = None,
    cancel: threading.Event | None = None,
) -> JobRecord:
    """Generate `timeline` with `run`: audio under `out/audio`, the result at `out/result.otio`."""
    events: list[PipelineEvent] = []

    def record(event: PipelineEvent) -> None:
        events.append(event)
        if on_event is not None:
            on_event(event)

    result = run.generate(
        timeline,
        request,
        output=out / "result.otio",
        audio_dir=out / "audio",
        on_event=record,
        cancel=cancel,
    )
    return JobRecord(result.summary, tuple(events))
