"""The result timeline: the editor's own edit plus Foley tracks that sit exactly under it.

One audio track per source video track that got Foley ("Foley V1"), each clip at exactly the
record range of its picture clip, in frames at the timeline's video rate: 48 kHz sample time
makes the FCP XML, FCPXML and AAF writers fail. Where a nested sequence puts two clips of one
video track over each other, the later one goes to an extra lane ("Foley V1 (2)").

With handles, each audio file is expected to hold `handles_frames` extra frames of audio on
each side; the clip uses the middle, and the editor can extend it into the handles.
Everything of the input is kept as it was: the result minus the added tracks equals the input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import opentimelineio as otio

from timeline.errors import ResultError
from timeline.formats import normalize_format
from timeline.records import ClipStatus, GeneratedAudio, SpottedClip
from timeline.timebase import NAMESPACE, timebase_of

RationalTime = otio.opentime.RationalTime
TimeRange = otio.opentime.TimeRange

TRACK_PREFIX = "Foley"
# The part of a generated clip's metadata users see in an NLE's comment fields.
_COMMENT_KEYS = ("prompt", "engine", "preset", "seed", "content_hash")


def build_result(
    timeline: otio.schema.Timeline,
    spotted: Sequence[SpottedClip],
    generated: Sequence[GeneratedAudio],
    *,
    handles_frames: int = 0,
    target_format: str | None = None,
) -> otio.schema.Timeline:
    """A copy of `timeline` with one Foley audio track per video track that got audio.

    `generated` must name spotted clips of `spotted` (by clip_id), each at most once.
    `target_format` shapes how the audio is referenced: a file:// URL for every format, plus
    FCP 7 XML comments for fcp_xml and Avid mob ids and user comments for aaf.
    Raises ResultError for audio that matches no spotted clip or appears twice.
    """
    if handles_frames < 0:
        raise ResultError(f"handles must be 0 or more frames, not {handles_frames}")
    target = normalize_format(target_format) if target_format else None
    timebase = timebase_of(timeline)
    rate = float(timebase.rate)
    by_id = {clip.clip_id: clip for clip in spotted}
    placed: dict[int, list[tuple[SpottedClip, GeneratedAudio]]] = {}
    seen: set[str] = set()
    for audio in generated:
        clip = by_id.get(audio.clip_id)
        if clip is None:
            raise ResultError(
                "generated audio names a clip the timeline does not have; spot the same "
                "timeline again and generate for its clip ids",
                clip=audio.clip_id,
            )
        if clip.status != ClipStatus.SPOTTED:
            raise ResultError(
                f"generated audio for a skipped clip ({clip.reason})", clip=audio.clip_id
            )
        if audio.clip_id in seen:
            raise ResultError("two generated audio files for one clip", clip=audio.clip_id)
        seen.add(audio.clip_id)
        placed.setdefault(clip.track_index, []).append((clip, audio))

    result = timeline.deepcopy()
    for track_index in sorted(placed):
        pairs = sorted(placed[track_index], key=lambda pair: pair[0].record_start_frame)
        for lane_number, lane in enumerate(_lanes(pairs), start=1):
            result.tracks.append(
                _foley_track(track_index, lane_number, lane, rate, handles_frames, target)
            )
    return result


def foley_track_name(track_index: int, lane: int = 1) -> str:
    base = f"{TRACK_PREFIX} V{track_index}"
    return base if lane == 1 else f"{base} ({lane})"


def is_foley_track(track: otio.core.Composable) -> bool:
    """True for tracks this module added (known by their metadata, else by their name)."""
    if not isinstance(track, otio.schema.Track) or track.kind != otio.schema.TrackKind.Audio:
        return False
    ours = track.metadata.get(NAMESPACE)
    if isinstance(ours, Mapping) and "source_track" in ours:
        return True
    return track.name.startswith(f"{TRACK_PREFIX} V")


def _lanes(
    pairs: list[tuple[SpottedClip, GeneratedAudio]],
) -> list[list[tuple[SpottedClip, GeneratedAudio]]]:
    """Share clips out to as few lanes as keep them from overlapping (first lane that fits)."""
    lanes: list[list[tuple[SpottedClip, GeneratedAudio]]] = []
    ends: list[int] = []
    for pair in pairs:
        start = pair[0].record_start_frame
        for index, end in enumerate(ends):
            if start >= end:
                lanes[index].append(pair)
                ends[index] = start + pair[0].record_duration_frames
                break
        else:
            lanes.append([pair])
            ends.append(start + pair[0].record_duration_frames)
    return lanes


def _foley_track(
    track_index: int,
    lane: int,
    pairs: list[tuple[SpottedClip, GeneratedAudio]],
    rate: float,
    handles: int,
    target: str | None,
) -> otio.schema.Track:
    source_name = pairs[0][0].track_name
    track = otio.schema.Track(
        name=foley_track_name(track_index, lane),
        kind=otio.schema.TrackKind.Audio,
        metadata={
            NAMESPACE: {
                "source_track": f"V{track_index}",
                "source_track_name": source_name,
                "lane": lane,
                "handles_frames": handles,
            }
        },
    )
    position = 0
    for clip, audio in pairs:
        gap = clip.record_start_frame - position
        if gap > 0:
            track.append(otio.schema.Gap(duration=RationalTime(gap, rate)))
        track.append(_foley_clip(clip, audio, rate, handles, target))
        position = clip.record_start_frame + clip.record_duration_frames
    return track


def _foley_clip(
    clip: SpottedClip,
    audio: GeneratedAudio,
    rate: float,
    handles: int,
    target: str | None,
) -> otio.schema.Clip:
    duration = clip.record_duration_frames
    details: dict[str, Any] = {
        **_plain(audio.metadata.get(NAMESPACE, audio.metadata)),
        "clip_id": clip.clip_id,
        "source_clip": clip.name,
        "source_track": f"V{clip.track_index}",
        "record_start_frame": clip.record_start_frame,
        "record_duration_frames": duration,
        "handles_frames": handles,
    }
    reference = otio.schema.ExternalReference(
        target_url=audio_url(audio.audio_path, target),
        available_range=TimeRange(
            RationalTime(0, rate), RationalTime(duration + 2 * handles, rate)
        ),
    )
    metadata: dict[str, Any] = {NAMESPACE: details}
    if target == "fcp_xml":
        metadata["fcp_xml"] = {"comments": _comments(details)}
    elif target == "aaf":
        metadata["AAF"] = {
            "MobID": avid_mob_id(clip.clip_id, details.get("content_hash")),
            "UserComments": {f"Foley {key}": str(details[key]) for key in _present(details)},
        }
    return otio.schema.Clip(
        name=f"{TRACK_PREFIX} {clip.name}",
        media_reference=reference,
        source_range=TimeRange(RationalTime(handles, rate), RationalTime(duration, rate)),
        metadata=metadata,
    )


def audio_url(path: Path, target: str | None = None) -> str:
    """A file URL for an audio file: file://localhost/... for FCP 7 XML, file:///... otherwise."""
    uri = Path(path).absolute().as_uri()
    if target == "fcp_xml":
        return "file://localhost" + uri[len("file://") :]
    return uri


def avid_mob_id(clip_id: str, content_hash: object = None) -> str:
    """A SMPTE UMID for the audio of one clip, derived from it so rewrites keep the same id.

    The 12-byte universal label and length are the ones Avid writes; the 16-byte material
    number comes from the clip id and audio content hash.
    """
    material = hashlib.sha1(f"{clip_id}\x1f{content_hash}".encode()).hexdigest()[:32]
    words = [material[i : i + 8] for i in range(0, 32, 8)]
    return "urn:smpte:umid:060a2b34.01010105.01010f20.13000000." + ".".join(words)


def _present(details: Mapping[str, Any]) -> list[str]:
    return [key for key in _COMMENT_KEYS if details.get(key) not in (None, "")]


def _comments(details: Mapping[str, Any]) -> dict[str, str]:
    """FCP 7 XML's four master comments: prompt, engine and preset, seed, content hash."""
    comments = {}
    if details.get("prompt"):
        comments["mastercomment1"] = f"Foley prompt: {details['prompt']}"
    engine = " / ".join(str(details[k]) for k in ("engine", "preset") if details.get(k))
    if engine:
        comments["mastercomment2"] = f"Foley engine: {engine}"
    if details.get("seed") is not None:
        comments["mastercomment3"] = f"Foley seed: {details['seed']}"
    if details.get("content_hash"):
        comments["mastercomment4"] = f"Foley content hash: {details['content_hash']}"
    return comments


def _plain(value: Any) -> Any:
    """Metadata as OTIO can store it: dicts, lists, str, int, float, bool, None."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
