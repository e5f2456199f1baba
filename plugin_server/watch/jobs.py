"""Running one watch-folder timeline: in this process (the pipeline `foley-server generate`
uses) or on a server (the Python client library). Both give back the same plain record.

A runner writes the audio files (each atomically) into the job's audio folder and the result
timeline to the job's staging path; the watcher renames it to its final name once it knows the
job was not cancelled.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from plugin_server.client import FoleyClient, GenerateOptions
    from plugin_server.pipeline.local import LocalRun
    from plugin_server.pipeline.request import GenerationRequest


class JobFailed(RuntimeError):
    """The timeline could not be processed at all; the message names the file and why."""


class ServerUnavailable(RuntimeError):
    """The server could not be reached: try this timeline again later, it is not failed."""


@dataclass(frozen=True)
class WatchJob:
    """One timeline to process. `source` is the entry in the input folder (a file or a bundle
    folder) and `input_format` the format its suffix names; `staging_result` a hidden path in
    the output folder for the result timeline."""

    source: Path
    input_format: str
    staging_result: Path
    audio_dir: Path


@dataclass(frozen=True)
class ClipNote:
    """A clip that got no audio (skipped, missing media, failed, cancelled), and why."""

    clip_id: str
    name: str
    track: str
    kind: str
    reason: str


@dataclass(frozen=True)
class JobOutcome:
    """What a finished (or cancelled) job produced. `result_format` is None when no result
    timeline was written."""

    result_format: str | None
    generated: int
    cached: int
    skipped: int
    failed: int
    cancelled: int
    job_cancelled: bool
    engine: str
    preset: str
    problems: tuple[ClipNote, ...] = ()
    notes: tuple[str, ...] = ()
    audio_files: tuple[Path, ...] = field(default=())


class JobRunner(Protocol):
    """Where the watcher's jobs run. `describe` names it in status files and logs."""

    describe: str

    def run(self, job: WatchJob, cancel: threading.Event) -> JobOutcome: ...


class LocalRunner:
    """The in-process pipeline: one worker pool (and cache) shared by all the watcher's jobs."""

    describe = "in-process"

    def __init__(
        self,
        local: LocalRun,
        request: GenerationRequest,
        media_roots: Sequence[Path],
        media_maps: Sequence[tuple[str, str]],
    ) -> None:
        self._local = local
        self._request = request
        self._media_roots = tuple(media_roots)
        self._media_maps = tuple(media_maps)

    def run(self, job: WatchJob, cancel: threading.Event) -> JobOutcome:
        from plugin_server.engines.base import EngineError
        from plugin_server.pipeline.errors import PipelineError
        from plugin_server.pipeline.events import ClipFailed, ClipFinished, JobStarted
        from plugin_server.presets import PresetError
        from timeline.errors import TimelineError

        problems: list[ClipNote] = []
        audio: list[Path] = []
        plan_facts: dict[str, object] = {}

        def on_event(event: object) -> None:
            if isinstance(event, JobStarted):
                plan = event.plan
                plan_facts.update(engine=plan.engine, preset=plan.preset, notes=plan.notes)
            elif isinstance(event, ClipFinished):
                audio.append(event.outcome.path)
            elif isinstance(event, ClipFailed):
                problem = event.problem
                problems.append(
                    ClipNote(
                        problem.clip_id,
                        problem.name,
                        problem.track_name,
                        str(problem.kind),
                        problem.reason,
                    )
                )

        try:
            result = self._local.generate(
                job.source,
                self._request,
                output=job.staging_result,
                audio_dir=job.audio_dir,
                media_roots=self._media_roots,
                media_maps=self._media_maps,
                on_event=on_event,
                cancel=cancel,
            )
        except (PipelineError, TimelineError, PresetError, EngineError, OSError) as error:
            raise JobFailed(str(error)) from error
        summary = result.summary
        notes = plan_facts.get("notes", ())
        return JobOutcome(
            result_format=result.timeline.format if result.timeline is not None else None,
            generated=summary.clips_generated,
            cached=summary.clips_cached,
            skipped=summary.clips_skipped,
            failed=summary.clips_failed,
            cancelled=summary.clips_cancelled,
            job_cancelled=summary.cancelled or cancel.is_set(),
            engine=str(plan_facts.get("engine", "")),
            preset=str(plan_facts.get("preset", "")),
            problems=tuple(problems),
            notes=tuple(notes) if isinstance(notes, tuple) else (),
            audio_files=tuple(audio),
        )


class RemoteRunner:
    """A Foley server, through the client library; audio comes back inline into the job's
    audio folder. A busy server is waited out (its retry hint) up to `busy_retries` times."""

    def __init__(
        self, client: FoleyClient, options: GenerateOptions, *, busy_retries: int = 30
    ) -> None:
        self._client = client
        self._options = options
        self._busy_retries = busy_retries
        self.describe = f"server {client.target}"

    def run(self, job: WatchJob, cancel: threading.Event) -> JobOutcome:
        import grpc

        from plugin_server.client import FoleyClientError
        from plugin_server.proto_gen.foley.v1 import foley_pb2 as pb

        timeline, timeline_format = _sendable(job)
        result_formats: list[str] = []

        def on_event(event: pb.GenerateFoleyResponse) -> None:
            if event.WhichOneof("event") == "result_timeline":
                result_formats.append(event.result_timeline.format)

        try:
            result = self._client.generate(
                timeline,
                job.staging_result,
                self._options,
                audio_dir=job.audio_dir,
                on_event=on_event,  # type: ignore[arg-type]
                cancel=cancel,
                timeline_format=timeline_format,
                busy_retries=self._busy_retries,
            )
        except FoleyClientError as error:
            if error.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED):
                raise ServerUnavailable(str(error)) from error
            if error.code == grpc.StatusCode.CANCELLED and cancel.is_set():
                return _cancelled_outcome()
            raise JobFailed(str(error)) from error
        summary, plan = result.summary, result.plan
        problems = tuple(
            ClipNote(
                p.clip_id,
                p.name,
                p.track_name,
                pb.ProblemKind.Name(p.kind).removeprefix("PROBLEM_KIND_").lower(),
                p.reason,
            )
            for p in result.problems
        )
        return JobOutcome(
            result_format=result_formats[-1] if result.timeline_path is not None else None,
            generated=summary.clips_generated,
            cached=summary.clips_cached,
            skipped=summary.clips_skipped,
            failed=summary.clips_failed,
            cancelled=summary.clips_cancelled,
            job_cancelled=summary.cancelled or cancel.is_set(),
            engine=plan.engine,
            preset=plan.preset,
            problems=problems,
            notes=tuple(plan.notes),
            audio_files=tuple(audio.path for audio in result.audio_files.values()),
        )


def _sendable(job: WatchJob) -> tuple[Path | bytes, str]:
    """What to send for a bundle folder, which is not one file: its timeline document. Media
    inside an .otiod bundle is then found by base name under the server's media roots."""
    if not job.source.is_dir():
        return job.source, ""  # the server tells the format from the file name and content
    from timeline.bundles import CONTENT_NAME

    inner = {"fcpxml": "Info.fcpxml", "otiod": CONTENT_NAME}.get(job.input_format)
    if inner is None or not (job.source / inner).is_file():
        raise JobFailed(f"{job.source.name}: a bundle folder without its {inner or 'timeline'}")
    try:
        data = (job.source / inner).read_bytes()
    except OSError as error:
        raise JobFailed(f"{job.source.name}/{inner}: {error.strerror}") from error
    return data, "otio" if job.input_format == "otiod" else job.input_format


def _cancelled_outcome() -> JobOutcome:
    return JobOutcome(
        result_format=None,
        generated=0,
        cached=0,
        skipped=0,
        failed=0,
        cancelled=0,
        job_cancelled=True,
        engine="",
        preset="",
    )
