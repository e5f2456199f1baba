"""Protobuf messages <-> the service's plain records. The only module that knows both."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from typing import Any

from google.protobuf import json_format, struct_pb2

from plugin_server.engines.base import EngineReport
from plugin_server.pipeline.errors import InvalidRequest
from plugin_server.pipeline.events import (
    ClipFailed,
    ClipFinished,
    ClipProgressed,
    JobFinished,
    JobStarted,
    PipelineEvent,
    TimelineReady,
)
from plugin_server.pipeline.records import ClipOutcome, ClipProblem, JobSummary, Plan, ProblemKind
from plugin_server.pipeline.request import AudioSpec, GenerationRequest
from plugin_server.presets import AUTO_PRESET
from plugin_server.proto_gen.foley.v1 import foley_pb2 as pb
from plugin_server.server.config import AUDIO_CHUNK_BYTES
from plugin_server.server.service import (
    Capabilities,
    ClipJobRequest,
    Delivery,
    MediaOverrides,
    TimelineJob,
    TimelineSourceSpec,
)

_CONTAINERS = {
    pb.AUDIO_CONTAINER_UNSPECIFIED: "wav",
    pb.AUDIO_CONTAINER_WAV: "wav",
    pb.AUDIO_CONTAINER_FLAC: "flac",
}
_SAMPLE_FORMATS = {
    pb.SAMPLE_FORMAT_UNSPECIFIED: "pcm24",
    pb.SAMPLE_FORMAT_PCM24: "pcm24",
    pb.SAMPLE_FORMAT_FLOAT32: "float32",
}
_PROBLEM_KINDS = {
    ProblemKind.SKIPPED: pb.PROBLEM_KIND_SKIPPED,
    ProblemKind.MISSING_MEDIA: pb.PROBLEM_KIND_MISSING_MEDIA,
    ProblemKind.OUTSIDE_MEDIA_ROOTS: pb.PROBLEM_KIND_OUTSIDE_MEDIA_ROOTS,
    ProblemKind.FAILED: pb.PROBLEM_KIND_FAILED,
    ProblemKind.CANCELLED: pb.PROBLEM_KIND_CANCELLED,
    ProblemKind.ENGINE_UNAVAILABLE: pb.PROBLEM_KIND_ENGINE_UNAVAILABLE,
}

AUTO_PRESET_DESCRIPTION = (
    "chosen per clip by the memory planner from the device's free memory and the clip's length"
)

# -- requests ----------------------------------------------------------------------------------


def generation_request(options: pb.GenerationOptions) -> GenerationRequest:
    """Validate and convert options; raises InvalidRequest naming the field."""
    audio_format = options.audio_format
    if audio_format.container not in _CONTAINERS:
        raise InvalidRequest(f"audio_format.container: unknown value {audio_format.container}")
    if audio_format.sample_format not in _SAMPLE_FORMATS:
        raise InvalidRequest(
            f"audio_format.sample_format: unknown value {audio_format.sample_format}"
        )
    audio = AudioSpec(
        container=_CONTAINERS[audio_format.container],  # type: ignore[arg-type]
        sample_format=_SAMPLE_FORMATS[audio_format.sample_format],  # type: ignore[arg-type]
        channels=audio_format.channels or 1,
        loudness_target_lufs=(
            options.loudness_target_lufs if options.HasField("loudness_target_lufs") else None
        ),
    )
    parameters = (
        json_format.MessageToDict(options.parameters) if options.HasField("parameters") else {}
    )
    if options.lora:
        if parameters.get("lora") not in (None, options.lora):
            raise InvalidRequest(
                f"lora {options.lora!r} and parameters.lora {parameters['lora']!r} disagree; "
                "give the adapter once"
            )
        parameters["lora"] = options.lora
    return GenerationRequest(
        engine=options.engine,
        preset=options.preset,
        parameters=parameters,
        prompt=options.prompt,
        negative_prompt=options.negative_prompt,
        seed=options.seed if options.HasField("seed") else None,
        tracks=tuple(options.tracks),
        handles_frames=options.handles_frames,
        audio=audio,
        result_format=options.result_format or None,
        use_cache=not options.skip_cache,
    )


def delivery(options: pb.GenerationOptions) -> Delivery:
    if options.delivery not in (
        pb.AUDIO_DELIVERY_UNSPECIFIED,
        pb.AUDIO_DELIVERY_INLINE,
        pb.AUDIO_DELIVERY_OUTPUT_ROOT,
    ):
        raise InvalidRequest(f"delivery: unknown value {options.delivery}")
    return Delivery(
        inline=options.delivery != pb.AUDIO_DELIVERY_OUTPUT_ROOT,
        output_dir=options.output_dir,
        inline_audio_dir=options.inline_audio_dir,
    )


def timeline_job(request: pb.GenerateFoleyRequest | pb.EstimatePlanRequest) -> TimelineJob:
    source = request.timeline
    which = source.WhichOneof("source")
    options = request.options
    return TimelineJob(
        timeline=TimelineSourceSpec(
            data=source.data if which == "data" else None,
            path=source.path if which == "path" else "",
            format=source.format,
            source_name=source.source_name,
            timeline_name=source.timeline_name,
        ),
        options=generation_request(options),
        delivery=delivery(options),
        media=MediaOverrides(
            search_dirs=tuple(options.media_search_dirs),
            maps=tuple((rule.from_prefix, rule.to_prefix) for rule in options.media_maps),
        ),
    )


def clip_job_request(request: pb.GenerateClipRequest) -> ClipJobRequest:
    values = {
        "media_start_s": request.media_start_s,
        "media_duration_s": request.media_duration_s,
        "record_duration_s": request.record_duration_s,
        "record_start_s": request.record_start_s,
    }
    for name, value in values.items():
        if not math.isfinite(value):
            raise InvalidRequest(f"{name} must be a finite number of seconds, got {value}")
    time_scalar = request.time_scalar if request.HasField("time_scalar") else 1.0
    if not math.isfinite(time_scalar):
        raise InvalidRequest(f"time_scalar must be finite, got {time_scalar}")
    return ClipJobRequest(
        media_path=request.media_path,
        time_scalar=time_scalar,
        clip_id=request.clip_id,
        options=generation_request(request.options),
        delivery=delivery(request.options),
        **values,
    )


# -- responses ---------------------------------------------------------------------------------


def struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    """A Struct from a mapping of JSON-like values (anything else becomes its text)."""
    message = struct_pb2.Struct()
    message.update(json.loads(json.dumps(dict(values), default=str)))
    return message


def plan_message(plan: Plan) -> pb.Plan:
    return pb.Plan(
        engine=plan.engine,
        model=plan.model,
        preset=plan.preset,
        device=plan.device,
        parameters=struct(plan.settings.to_dict()),
        clips=[
            pb.ClipPlan(
                clip_id=clip.clip_id,
                name=clip.name,
                track_index=clip.track_index,
                track_name=clip.track_name,
                record_timecode=clip.record_timecode,
                duration_s=clip.span.record_duration_s,
                media_path=str(clip.span.path),
                media_start_s=clip.span.start_s,
                media_duration_s=clip.span.duration_s,
                time_scalar=clip.span.time_scalar,
                prompt=clip.prompt,
                estimated_memory_bytes=clip.estimate.memory_bytes,
                estimated_seconds=clip.estimate.seconds,
                cached=clip.cached,
                preset=clip.preset,
            )
            for clip in plan.clips
        ],
        problems=[problem_message(problem) for problem in plan.problems],
        estimated_seconds=plan.estimated_seconds,
        estimated_peak_memory_bytes=plan.estimated_peak_memory_bytes,
        timeline_name=plan.timeline_name,
        timeline_format=plan.timeline_format,
        notes=list(plan.notes),
    )


def problem_message(problem: ClipProblem) -> pb.ClipProblem:
    return pb.ClipProblem(
        clip_id=problem.clip_id,
        kind=_PROBLEM_KINDS[problem.kind],
        reason=problem.reason,
        name=problem.name,
        track_name=problem.track_name,
        record_timecode=problem.record_timecode,
        track_index=problem.track_index,
    )


def report_message(outcome: ClipOutcome) -> pb.ClipReport:
    report: EngineReport = outcome.report
    message = pb.ClipReport(
        engine=report.engine,
        model=report.model,
        parameters=struct(report.parameters),
        peak_memory_bytes=max(0, int(report.peak_memory_bytes)),
        stage_seconds={name: float(seconds) for name, seconds in report.stage_seconds.items()},
        notes=list(report.notes),
        sample_rate=outcome.audio.sample_rate,
        num_samples=outcome.audio.num_samples,
        duration_s=outcome.audio.num_samples / outcome.audio.sample_rate,
        seed=outcome.seed,
        prompt=outcome.prompt,
        elapsed_s=outcome.elapsed_s,
        lora=str(report.parameters.get("lora") or ""),
    )
    if outcome.audio.loudness_lufs is not None:
        message.loudness_lufs = outcome.audio.loudness_lufs
    if outcome.audio.true_peak_dbtp is not None:
        message.true_peak_dbtp = outcome.audio.true_peak_dbtp
    return message


def clip_result_message(outcome: ClipOutcome, *, inline: bool) -> pb.ClipResult:
    return pb.ClipResult(
        clip_id=outcome.clip_id,
        status=pb.CLIP_STATUS_CACHED if outcome.from_cache else pb.CLIP_STATUS_GENERATED,
        from_cache=outcome.from_cache,
        file_name=outcome.file_name,
        path="" if inline else str(outcome.path),
        size_bytes=outcome.audio.size_bytes,
        sha256=outcome.audio.sha256,
        report=report_message(outcome),
    )


def audio_chunks(outcome: ClipOutcome) -> Iterator[pb.AudioChunk]:
    """The clip's file in pieces of at most AUDIO_CHUNK_BYTES, read as they are sent."""
    with open(outcome.path, "rb") as file:
        offset = 0
        while data := file.read(AUDIO_CHUNK_BYTES):
            yield pb.AudioChunk(
                clip_id=outcome.clip_id, file_name=outcome.file_name, offset=offset, data=data
            )
            offset += len(data)


def result_timeline_pieces(event: TimelineReady) -> Iterator[pb.ResultTimeline]:
    """The result timeline in pieces of at most AUDIO_CHUNK_BYTES, like audio: a timeline of
    thousands of clips can exceed the message limit, which must not fail a finished job."""
    total = len(event.data)
    path = str(event.path) if event.path is not None else ""
    for offset in range(0, max(total, 1), AUDIO_CHUNK_BYTES):
        yield pb.ResultTimeline(
            data=event.data[offset : offset + AUDIO_CHUNK_BYTES],
            format=event.format,
            file_name=event.file_name,
            path=path,
            offset=offset,
            total_size_bytes=total,
        )


def summary_message(summary: JobSummary) -> pb.JobSummary:
    return pb.JobSummary(
        job_id=summary.job_id,
        clips_total=summary.clips_total,
        clips_generated=summary.clips_generated,
        clips_cached=summary.clips_cached,
        clips_failed=summary.clips_failed,
        clips_skipped=summary.clips_skipped,
        clips_cancelled=summary.clips_cancelled,
        elapsed_s=summary.elapsed_s,
        cancelled=summary.cancelled,
    )


def event_fields(event: PipelineEvent, *, inline: bool) -> Iterator[tuple[str, Any]]:
    """(oneof field name, message) pairs for one pipeline event, in stream order.

    GenerateFoleyResponse and GenerateClipResponse share these field names.
    """
    if isinstance(event, JobStarted):
        plan = plan_message(event.plan)
        yield (
            "accepted",
            pb.JobAccepted(job_id=event.job_id, clip_count=len(event.plan.clips), plan=plan),
        )
    elif isinstance(event, ClipProgressed):
        yield (
            "progress",
            pb.ClipProgress(clip_id=event.clip_id, stage=event.stage, percent=event.percent),
        )
    elif isinstance(event, ClipFinished):
        if inline:
            for chunk in audio_chunks(event.outcome):
                yield "audio_chunk", chunk
        yield "clip_result", clip_result_message(event.outcome, inline=inline)
    elif isinstance(event, ClipFailed):
        yield "clip_problem", problem_message(event.problem)
    elif isinstance(event, TimelineReady):
        yield from (("result_timeline", piece) for piece in result_timeline_pieces(event))
    elif isinstance(event, JobFinished):
        yield "summary", summary_message(event.summary)


def capabilities_message(capabilities: Capabilities, version: str) -> pb.GetCapabilitiesResponse:
    limits = capabilities.limits
    return pb.GetCapabilitiesResponse(
        server_version=version,
        default_engine=capabilities.default_engine,
        default_preset=capabilities.default_preset,
        engines=[
            pb.EngineCapability(
                name=engine.name,
                model=engine.model,
                available=engine.available,
                reason=engine.reason,
                device=engine.device,
                libraries=[
                    pb.SoundLibrary(
                        path=str(library.path),
                        files=library.files,
                        bytes=library.bytes,
                        duration_seconds=library.duration_s,
                        skipped_files=library.skipped,
                    )
                    # Only the library engine's info (LibraryEngineInfo) carries libraries.
                    for library in getattr(engine, "libraries", ())
                ],
            )
            for engine in capabilities.engines
        ],
        presets=[
            *(
                pb.PresetCapability(
                    name=preset.name,
                    description=preset.description,
                    parameters=struct(preset.settings.to_dict()),
                )
                for preset in capabilities.presets
            ),
            # Not a settings file: the planner picks one of the presets per clip.
            pb.PresetCapability(name=AUTO_PRESET, description=AUTO_PRESET_DESCRIPTION),
        ],
        devices=[
            pb.Device(
                name=device.name,
                description=device.description,
                total_memory_bytes=device.total_bytes,
                free_memory_bytes=device.free_bytes,
            )
            for device in capabilities.devices
        ],
        timeline_formats=list(capabilities.timeline_formats),
        audio_containers=list(capabilities.audio_containers),
        limits=pb.Limits(
            max_message_bytes=limits.max_message_bytes,
            max_queued_jobs=limits.max_jobs,
            max_clips_per_job=limits.max_clips_per_job,
            audio_chunk_bytes=limits.audio_chunk_bytes,
            workers=limits.workers,
        ),
        output_root_configured=capabilities.output_root_configured,
    )
