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
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import opentimelineio as otio

from timeline.errors import ResultError
from timeline.formats import normalize_format
from timeline.metadata import lookup, namespace
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
    copy_input: bool = True,
) -> otio.schema.Timeline:
    """A copy of `timeline` with one Foley audio track per video track that got audio.

    `generated` must name spotted clips of `spotted` (by clip_id), each at most once.
    `target_format` shapes how the audio is referenced: a file:// URL for every format, plus
    FCP 7 XML comments for fcp_xml and Avid mob ids and user comments for aaf.
    `copy_input=False` adds the tracks to `timeline` itself, sparing a deep copy of a large
    edit (a fifth of a second per ten thousand clips) when the caller is done with it.
    Raises ResultError for audio that matches no spotted clip or appears twice.
    """
    if handles_frames < 0:
        raise ResultError(f"handles must be 0 or more frames, not {handles_frames}")
    target = normalize_format(target_format) if target_format else None
    rate = float(timebase_of(timeline).rate)
    lanes = foley_lanes(spotted, generated)
    result = timeline.deepcopy() if copy_input else timeline
    for lane in lanes:
        result.tracks.append(
            _foley_track(
                lane.track_index, lane.lane, list(lane.clips), rate, handles_frames, target
            )
        )
    return result


@dataclass(frozen=True)
class FoleyLane:
    """One Foley audio track of the result: the clips of one video track that do not overlap.

    `clips` are sorted by record start; native writers (`timeline.native`) and `build_result`
    both place exactly these.
    """

    track_index: int  # the source video track, 1-based
    lane: int  # 1 for the first lane of that video track
    source_track_name: str
    clips: tuple[tuple[SpottedClip, GeneratedAudio], ...]

    @property
    def name(self) -> str:
        return foley_track_name(self.track_index, self.lane)


def foley_lanes(
    spotted: Sequence[SpottedClip], generated: Sequence[GeneratedAudio]
) -> list[FoleyLane]:
    """The Foley tracks to add, in order: by video track, then lane.

    Raises ResultError for audio that matches no spotted clip, a skipped clip, or appears twice.
    """
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
    lanes = []
    for track_index in sorted(placed):
        pairs = sorted(placed[track_index], key=lambda pair: pair[0].record_start_frame)
        for lane_number, lane in enumerate(_lanes(pairs), start=1):
            lanes.append(FoleyLane(track_index, lane_number, lane[0][0].track_name, tuple(lane)))
    return lanes


def foley_track_name(track_index: int, lane: int = 1) -> str:
    base = f"{TRACK_PREFIX} V{track_index}"
    return base if lane == 1 else f"{base} ({lane})"


def is_foley_track(track: otio.core.Composable) -> bool:
    """True for tracks this module added (known by their metadata, else by their name)."""
    if not isinstance(track, otio.schema.Track) or track.kind != otio.schema.TrackKind.Audio:
        return False
    ours = namespace(track.metadata, NAMESPACE)
    if ours is not None and lookup(ours, "source_track") is not None:
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
    """The track as OTIO JSON, parsed once by OTIO's C++ reader.

    Building ten thousand clips through the Python bindings converts every metadata dict
    key by key (about a millisecond a clip); one parse of the same JSON is 20x faster.
    """
    children: list[dict[str, Any]] = []
    position = 0
    for clip, audio in pairs:
        gap = clip.record_start_frame - position
        if gap > 0:
            children.append({"OTIO_SCHEMA": "Gap.1", "source_range": _range_json(0, gap, rate)})
        children.append(_foley_clip(clip, audio, rate, handles, target))
        position = clip.record_start_frame + clip.record_duration_frames
    document = {
        "OTIO_SCHEMA": "Track.1",
        "name": foley_track_name(track_index, lane),
        "kind": otio.schema.TrackKind.Audio,
        "metadata": {
            NAMESPACE: {
                "source_track": f"V{track_index}",
                "source_track_name": pairs[0][0].track_name,
                "lane": lane,
                "handles_frames": handles,
            }
        },
        "children": children,
    }
    return otio.core.deserialize_json_from_string(json.dumps(document, separators=(",", ":")))


def _foley_clip(
    clip: SpottedClip,
    audio: GeneratedAudio,
    rate: float,
    handles: int,
    target: str | None,
) -> dict[str, Any]:
    """One Foley clip as OTIO JSON (Clip.2 with an ExternalReference.1)."""
    duration = clip.record_duration_frames
    # Where the clip sits and its handles are in the track's metadata and the clip's own range;
    # per clip only what identifies the audio, to keep ten thousand clips light to parse.
    details: dict[str, Any] = {
        **plain_metadata(audio.metadata.get(NAMESPACE, audio.metadata)),
        "clip_id": clip.clip_id,
    }
    metadata: dict[str, Any] = {NAMESPACE: details}
    if target == "fcp_xml":
        metadata["fcp_xml"] = {"comments": foley_comments(details)}
    elif target == "aaf":
        metadata["AAF"] = {
            "MobID": avid_mob_id(clip.clip_id, details.get("content_hash")),
            "UserComments": {f"Foley {key}": str(details[key]) for key in _present(details)},
        }
    reference = {
        "OTIO_SCHEMA": "ExternalReference.1",
        "target_url": audio_url(audio.audio_path, target),
        "available_range": _range_json(0, duration + 2 * handles, rate),
    }
    return {
        "OTIO_SCHEMA": "Clip.2",
        "name": f"{TRACK_PREFIX} {clip.name}",
        "metadata": metadata,
        "source_range": _range_json(handles, duration, rate),
        "media_references": {"DEFAULT_MEDIA": reference},
        "active_media_reference_key": "DEFAULT_MEDIA",
    }


def _range_json(start: int, duration: int, rate: float) -> dict[str, Any]:
    return {
        "OTIO_SCHEMA": "TimeRange.1",
        "start_time": {"OTIO_SCHEMA": "RationalTime.1", "rate": rate, "value": float(start)},
        "duration": {"OTIO_SCHEMA": "RationalTime.1", "rate": rate, "value": float(duration)},
    }


def audio_url(path: Path, target: str | None = None) -> str:
    """A file URL for an audio file: file://localhost/... for FCP 7 XML, file:///... otherwise."""
    # What Path.as_uri() gives for an absolute POSIX path, without pathlib's per-call cost.
    quoted = quote(os.path.abspath(os.fspath(path)), safe="/")
    return ("file://localhost" if target == "fcp_xml" else "file://") + quoted


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


def foley_comments(details: Mapping[str, Any]) -> dict[str, str]:
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


def comment_details(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of a generated clip's metadata that `foley_comments` reads, as `plain_metadata`
    makes them (converting every key of ten thousand clips' metadata costs a tenth of a
    second)."""
    return {key: plain_metadata(metadata[key]) for key in _COMMENT_KEYS if key in metadata}


def plain_metadata(value: Any) -> Any:
    """Metadata as OTIO can store it: dicts, lists, str, int, float, bool, None."""
    # Plain values first: most values are, and the Mapping test (an ABC) is the slow one.
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(key): plain_metadata(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_metadata(item) for item in value]
    return str(value)
