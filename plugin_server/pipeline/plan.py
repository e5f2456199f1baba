"""Turn a timeline (or one media range) and a request into a plan of clip jobs.

Planning reads the timeline, spots its picture clips, relinks media, refuses media outside the
allowed roots, resolves the preset and parameters, estimates each clip and looks it up in the
result cache. Nothing is generated here; `EstimatePlan` stops after this step.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugin_server.engines.base import SAMPLE_RATE, EngineInfo, EngineUnavailable
from plugin_server.media.frames import MediaSpan
from plugin_server.media.probe import probe
from plugin_server.pipeline.cache import ResultCache, cache_key
from plugin_server.pipeline.errors import AccessRefused, InputNotFound, InvalidRequest
from plugin_server.pipeline.estimate import estimate_clip
from plugin_server.pipeline.formats import result_format_for
from plugin_server.pipeline.identity import MediaIdentity
from plugin_server.pipeline.records import ClipJob, ClipProblem, Plan, ProblemKind
from plugin_server.pipeline.request import GenerationRequest
from plugin_server.pipeline.settings import SettingsResolver
from plugin_server.pipeline.timeline_reader import ParseLimits, read_untrusted_timeline
from timeline.errors import MalformedTimeline
from timeline.records import ClipStatus, MediaMap, SpottedClip
from timeline.relink import AMBIGUOUS_MARK
from timeline.spotting import spot_clips

MediaAccess = Callable[[Path], Path]
"""Returns the real path of a media file the job may read; raises AccessRefused otherwise."""


@dataclass(frozen=True)
class TimelineInput:
    """A timeline to read: its bytes or a file path, with an optional format name."""

    source: bytes | Path
    format: str | None = None
    source_name: str | None = None
    timeline_name: str | None = None


@dataclass(frozen=True)
class MediaClipInput:
    """One range of one media file (GenerateClip). Times in seconds; see MediaSpan."""

    clip_id: str
    path: Path
    start_s: float
    duration_s: float
    time_scalar: float
    record_duration_s: float
    record_start_s: float


@dataclass(frozen=True)
class PlanningContext:
    """What the deployment provides to every plan (defaults, cache, engine look-up)."""

    default_engine: str
    default_preset: str
    engine_info: Callable[[str], EngineInfo]
    identity: MediaIdentity
    cache: ResultCache | None = None
    media_access: MediaAccess | None = None
    engine_options: Mapping[str, Any] = field(default_factory=dict)
    # Applied over every preset, before a request's own parameters (e.g. `serve --steps 30`).
    default_parameters: Mapping[str, Any] = field(default_factory=dict)
    default_seed: int = 0
    workers: int = 1
    # The budget for parsing a client's timeline; None parses in-process (local files).
    parse_limits: ParseLimits | None = None


@dataclass(frozen=True)
class PreparedJob:
    """A plan plus what the result timeline is built from (None for GenerateClip)."""

    plan: Plan
    request: GenerationRequest
    loaded: Any = None  # timeline.formats.LoadedTimeline
    spotted: tuple[SpottedClip, ...] = ()


def plan_timeline(
    source: TimelineInput,
    request: GenerationRequest,
    context: PlanningContext,
    media_map: MediaMap,
) -> PreparedJob:
    """Read, spot and plan a timeline; raises InvalidRequest, EngineUnavailable, TimelineError."""
    engine, settings = _resolve_engine_and_settings(request, context)
    loaded = read_untrusted_timeline(
        source.source,
        format=source.format or None,
        timeline_name=source.timeline_name or None,
        source_name=source.source_name or None,
        limits=context.parse_limits,
    )
    try:
        spotted = tuple(
            spot_clips(
                loaded.timeline,
                media_map,
                media_start_timecode=lambda path: _media_start_timecode(path, context),
            )
        )
    # Structures the spotter cannot walk: nesting deeper than Python's stack (480 stacks in
    # stacks), rates OTIO's timecode refuses. The request is bad, not the server.
    except (RecursionError, ValueError, OverflowError) as error:
        raise MalformedTimeline(
            f"the timeline cannot be spotted: {type(error).__name__}: {str(error)[:200]}",
            file=loaded.source_name,
        ) from error
    selected = _select_tracks(spotted, request.tracks)
    clips: list[ClipJob] = []
    problems: list[ClipProblem] = []
    for clip in selected:
        problem = _clip_problem(clip, context)
        if problem is not None:
            problems.append(problem)
            continue
        try:
            job = _clip_job(
                index=len(clips) + 1,
                clip=clip,
                request=request,
                context=context,
                engine=engine,
                settings=settings,
            )
        except InputNotFound as error:
            problems.append(_problem(clip, ProblemKind.MISSING_MEDIA, str(error)))
            continue
        clips.append(job)
    result_format, result_notes = result_format_for(loaded.format, request.result_format)
    plan = _plan(
        engine,
        settings,
        clips,
        problems,
        context,
        timeline_name=str(loaded.timeline.name or ""),
        timeline_format=loaded.format,
        result_format=result_format,
        notes=(*loaded.notes, *result_notes, *_prompt_word_notes(engine.name, clips)),
    )
    return PreparedJob(plan=plan, request=request, loaded=loaded, spotted=spotted)


_MAX_PROMPT_NOTES = 20


def _prompt_word_notes(engine_name: str, clips: list[ClipJob]) -> tuple[str, ...]:
    """For the procedural engine, which words of each distinct prompt it will use and which
    it ignores (unknown words fall back silently otherwise)."""
    if engine_name != "procedural":
        return ()
    from plugin_server.engines.procedural.prompt import plan_from_prompt

    notes: list[str] = []
    for prompt in dict.fromkeys(clip.prompt for clip in clips):
        if len(notes) == _MAX_PROMPT_NOTES:
            break
        words = plan_from_prompt(prompt)
        used = ", ".join(words.matched) or "(none: the neutral recipe)"
        ignored = f"; ignored: {', '.join(words.ignored)}" if words.ignored else ""
        notes.append(f"prompt {prompt!r}: words used: {used}{ignored}")
    return tuple(notes)


def plan_media_clip(
    clip: MediaClipInput, request: GenerationRequest, context: PlanningContext
) -> PreparedJob:
    """Plan one media range (no timeline); raises InvalidRequest for impossible ranges."""
    engine, settings = _resolve_engine_and_settings(request, context)
    for name in ("start_s", "duration_s", "record_duration_s", "record_start_s"):
        if getattr(clip, name) < 0:
            raise InvalidRequest(f"clip {clip.clip_id!r}: {name} must not be negative")
    if clip.record_duration_s <= 0:
        raise InvalidRequest(
            f"clip {clip.clip_id!r}: the audio would be empty; give a media duration > 0 "
            "(or a record duration for a freeze frame)"
        )
    path = context.media_access(clip.path) if context.media_access else clip.path
    if not path.is_file():
        raise InputNotFound(f"clip {clip.clip_id!r}: media file {clip.path} does not exist")
    span = MediaSpan(
        path=path,
        start_s=clip.start_s,
        duration_s=clip.duration_s,
        time_scalar=clip.time_scalar,
        record_duration_s=clip.record_duration_s,
    )
    job = _finish_clip_job(
        clip_id=clip.clip_id,
        name=path.name,
        track_index=0,
        track_name="",
        record_timecode="",
        span=span,
        file_name=f"{_slug(clip.clip_id)}{request.audio.suffix}",
        time_reference_samples=round(clip.record_start_s * SAMPLE_RATE),
        clip_prompt="",
        request=request,
        context=context,
        engine=engine,
        settings=settings,
    )
    plan = _plan(engine, settings, [job], [], context)
    return PreparedJob(plan=plan, request=request)


def _media_start_timecode(path: Path, context: PlanningContext) -> float | None:
    """A media file's own start timecode in seconds since midnight, for spotting.

    Files the job may not read are not opened (None); planning then refuses their clips.
    """
    if context.media_access is not None:
        try:
            context.media_access(path)
        except (AccessRefused, InputNotFound, InvalidRequest):
            return None
    return probe(path).start_timecode_s


def _resolve_engine_and_settings(
    request: GenerationRequest, context: PlanningContext
) -> tuple[EngineInfo, SettingsResolver]:
    engine_name = request.engine or context.default_engine
    try:
        engine = context.engine_info(engine_name)
    except ValueError as error:
        raise InvalidRequest(f"engine: {error}") from error
    if not engine.available:
        raise EngineUnavailable(f"engine {engine_name!r} cannot run here: {engine.reason}")
    settings = SettingsResolver(
        request.preset or context.default_preset,
        (
            ("server defaults", context.default_parameters),
            ("request parameters", request.parameters),
        ),
        engine,
    )
    _check_lora(settings.plan_settings.lora, engine, context.engine_options)
    return engine, settings


def _check_lora(name: str | None, engine: EngineInfo, engine_options: Mapping[str, Any]) -> None:
    """Refuse a LoRA the engine cannot use before any clip runs (docs/finetune.md)."""
    if name is None:
        return
    if engine.name != "hunyuan":
        raise InvalidRequest(
            f"lora {name!r}: LoRA adapters apply to the hunyuan engine; engine {engine.name!r} "
            "has none"
        )
    from plugin_server.finetune.adapter_files import LORA_DIR_OPTION, AdapterError, adapter_folder

    lora_dir = engine_options.get(LORA_DIR_OPTION)
    try:
        adapter_folder(Path(lora_dir) if lora_dir else None, name)
    except AdapterError as error:
        raise InvalidRequest(str(error)) from error


def _with_lora_identity(engine_options: Mapping[str, Any], lora: str | None) -> Mapping[str, Any]:
    """Engine options for the cache key: with a LoRA, also its files' size and time, so an
    adapter retrained under the same name is not served from the cache."""
    if lora is None:
        return engine_options
    from plugin_server.finetune.adapter_files import LORA_DIR_OPTION, adapter_stamp

    folder = Path(engine_options[LORA_DIR_OPTION]) / lora
    return {**engine_options, "lora_files": adapter_stamp(folder)}


_TRACK_NUMBER = re.compile(r"^[vV]?(\d+)$")


def _select_tracks(spotted: tuple[SpottedClip, ...], tracks: tuple[str, ...]) -> list[SpottedClip]:
    if not tracks:
        return list(spotted)
    known = {(clip.track_index, clip.track_name) for clip in spotted}
    indexes: set[int] = set()
    names: set[str] = set()
    for token in tracks:
        match = _TRACK_NUMBER.match(token.strip())
        if match and any(index == int(match.group(1)) for index, _ in known):
            indexes.add(int(match.group(1)))
        elif any(name == token for _, name in known):
            names.add(token)
        else:
            listing = ", ".join(f"V{index} {name!r}" for index, name in sorted(known)) or "none"
            raise InvalidRequest(
                f"tracks: {token!r} is not a video track of this timeline (video tracks: {listing})"
            )
    return [c for c in spotted if c.track_index in indexes or c.track_name in names]


def _problem(clip: SpottedClip, kind: ProblemKind, reason: str) -> ClipProblem:
    return ClipProblem(
        clip_id=clip.clip_id,
        kind=kind,
        reason=reason,
        name=clip.name,
        track_name=clip.track_name,
        record_timecode=clip.record_timecode,
        track_index=clip.track_index,
    )


def _clip_problem(clip: SpottedClip, context: PlanningContext) -> ClipProblem | None:
    """Why a spotted clip cannot be generated, or None when it can."""
    if clip.status == ClipStatus.SKIPPED:
        # The spotter skips clips whose media it could not find; that is missing media to the
        # user, who can fix it with a media root or map, unlike a generator or a hidden clip.
        lost = clip.media_url is not None and clip.media_path is None
        if lost and context.media_access is not None and AMBIGUOUS_MARK not in clip.reason:
            return _not_found(clip)
        kind = ProblemKind.MISSING_MEDIA if lost else ProblemKind.SKIPPED
        return _problem(clip, kind, f"clip {clip.name!r} at {clip.record_timecode}: {clip.reason}")
    if clip.media_path is None:
        return _not_found(clip)
    if context.media_access is not None:
        try:
            context.media_access(clip.media_path)
        except (AccessRefused, InputNotFound, InvalidRequest):
            # Refused exactly like media that does not exist: telling the two apart would let
            # a client probe for any file on the server.
            return _not_found(clip)
    if not _is_file(clip.media_path):
        return _not_found(clip)
    return None


def _not_found(clip: SpottedClip) -> ClipProblem:
    """The one answer for media that is missing, outside the media roots or unusable."""
    where = repr(clip.media_url) if clip.media_url else "(no media reference)"
    return _problem(
        clip,
        ProblemKind.MISSING_MEDIA,
        f"clip {clip.name!r} at {clip.record_timecode}: media {where} was not found under the "
        "server's media roots (only files there are read); add a media root, search folder or "
        "media map that contains it",
    )


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name the file system refuses (too long) names no file
        return False


def _clip_job(
    *,
    index: int,
    clip: SpottedClip,
    request: GenerationRequest,
    context: PlanningContext,
    engine: EngineInfo,
    settings: SettingsResolver,
) -> ClipJob:
    assert clip.media_path is not None  # _clip_problem refused clips without media
    media_path = context.media_access(clip.media_path) if context.media_access else clip.media_path
    handle_s = float(request.handles_frames / clip.rate)
    span, pad_before_s, pad_after_s = _clamped_span(
        media_path,
        start_s=clip.media_start_s - handle_s * abs(clip.time_scalar),
        duration_s=clip.media_duration_s + 2 * handle_s * abs(clip.time_scalar),
        time_scalar=clip.time_scalar,
        record_duration_s=clip.record_duration_s + 2 * handle_s,
    )
    first_sample_s = max(0.0, clip.record_start_s_since_midnight - handle_s)
    return _finish_clip_job(
        clip_id=clip.clip_id,
        name=clip.name,
        track_index=clip.track_index,
        track_name=clip.track_name,
        record_timecode=clip.record_timecode,
        span=span,
        file_name=f"{index:03d}_V{clip.track_index}_{_slug(clip.name)}{request.audio.suffix}",
        time_reference_samples=round(first_sample_s * SAMPLE_RATE),
        clip_prompt=clip.prompt,
        pad_before_s=pad_before_s,
        pad_after_s=pad_after_s,
        request=request,
        context=context,
        engine=engine,
        settings=settings,
    )


def _finish_clip_job(
    *,
    clip_id: str,
    name: str,
    track_index: int,
    track_name: str,
    record_timecode: str,
    span: MediaSpan,
    file_name: str,
    time_reference_samples: int,
    clip_prompt: str,
    request: GenerationRequest,
    context: PlanningContext,
    engine: EngineInfo,
    settings: SettingsResolver,
    pad_before_s: float = 0.0,
    pad_after_s: float = 0.0,
) -> ClipJob:
    preset, clip_settings = settings.for_clip(span.record_duration_s)
    prompt = ", ".join(part for part in (request.prompt.strip(), clip_prompt.strip()) if part)
    seed = request.seed if request.seed is not None else context.default_seed
    negative_prompt = request.negative_prompt or clip_settings.negative_prompt
    key = None
    cached = False
    if context.cache is not None and request.use_cache:
        try:
            media_identity = context.identity.digest(span.path)
        except OSError as error:
            raise InputNotFound(
                f"clip {name!r}: media file {span.path} cannot be read ({error.strerror})"
            ) from error
        key = cache_key(
            media_identity=media_identity,
            span=span,
            prompt=prompt,
            negative_prompt=negative_prompt,
            engine=engine.name,
            model=engine.model,
            parameters=clip_settings.to_dict(),
            seed=seed,
            engine_options=_with_lora_identity(context.engine_options, clip_settings.lora),
        )
        cached = context.cache.contains(key)
    return ClipJob(
        clip_id=clip_id,
        name=name,
        track_index=track_index,
        track_name=track_name,
        record_timecode=record_timecode,
        span=span,
        prompt=prompt,
        negative_prompt=negative_prompt,
        seed=seed,
        preset=preset,
        settings=clip_settings,
        time_reference_samples=time_reference_samples,
        file_name=file_name,
        estimate=estimate_clip(engine, clip_settings, span.record_duration_s),
        cache_key=key,
        cached=cached,
        pad_before_s=pad_before_s,
        pad_after_s=pad_after_s,
    )


def _plan(
    engine: EngineInfo,
    settings: SettingsResolver,
    clips: list[ClipJob],
    problems: list[ClipProblem],
    context: PlanningContext,
    *,
    timeline_name: str = "",
    timeline_format: str = "",
    result_format: str = "",
    notes: tuple[str, ...] = (),
) -> Plan:
    work_s = sum(clip.estimate.seconds for clip in clips if not clip.cached)
    return Plan(
        engine=engine.name,
        model=engine.model,
        preset=settings.preset,
        device=engine.device,
        settings=settings.plan_settings,
        clips=tuple(clips),
        problems=tuple(problems),
        estimated_seconds=work_s / max(1, context.workers),
        estimated_peak_memory_bytes=max((c.estimate.memory_bytes for c in clips), default=0),
        timeline_name=timeline_name,
        timeline_format=timeline_format,
        result_format=result_format,
        notes=notes,
    )


def _clamped_span(
    path: Path,
    *,
    start_s: float,
    duration_s: float,
    time_scalar: float,
    record_duration_s: float,
) -> tuple[MediaSpan, float, float]:
    """The span to decode, and the record seconds of silence before and after its audio.

    Handles (or an edit that starts before the media's first frame) can ask for media before
    0 s, which does not exist. That part is cut from the span and replaced by silence on the
    side where it plays: first for forward clips, last for reverse ones (they end on the
    range's start).
    """
    speed = abs(time_scalar)
    missing_media_s = max(0.0, -start_s) if speed > 0 else 0.0
    if missing_media_s == 0.0:
        return MediaSpan(path, max(0.0, start_s), duration_s, time_scalar, record_duration_s), 0, 0
    missing_record_s = min(record_duration_s, missing_media_s / speed)
    span = MediaSpan(
        path=path,
        start_s=0.0,
        duration_s=max(0.0, duration_s - missing_media_s),
        time_scalar=time_scalar,
        record_duration_s=record_duration_s - missing_record_s,
    )
    if time_scalar > 0:
        return span, missing_record_s, 0.0
    return span, 0.0, missing_record_s


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MEDIA_SUFFIX = re.compile(r"\.[A-Za-z0-9]{2,4}$")


def _slug(name: str) -> str:
    """A file-name-safe version of a clip name (its media suffix dropped), at most 48 chars."""
    return _UNSAFE.sub("_", _MEDIA_SUFFIX.sub("", name)).strip("._")[:48] or "clip"
