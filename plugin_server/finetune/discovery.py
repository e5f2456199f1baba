"""Find training pairs in DATA: a folder of videos with matching audio files, or timelines.

Folder: every video file is paired with the audio file of the same path and base name
(`shots/walk.mp4` with `shots/walk.wav`); a text file of that name (`shots/walk.txt`) holds its
prompt. A video without audio, audio without a video, or two files of one name and kind are
problems.

Timeline: the picture clips are spotted as for generation (`timeline.spotting.spot_clips`);
the audio tracks are spotted the same way (each audio track read as if it were picture, so the
same placement, trim, speed and relinking rules apply), and each picture clip is paired with the
audio clip that overlaps it longest on the record. The pair is the picture clip's record range:
a Foley clip that covers less of it (by more than one frame) is "audio shorter than its
picture". Audio tracks written by this server (its Foley tracks) are never used unless named.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from plugin_server.finetune.pairs import AudioSpan, Discovery, TrainingPair
from plugin_server.media.errors import MediaError
from plugin_server.media.frames import MediaSpan
from plugin_server.media.probe import probe
from timeline.errors import TimelineError
from timeline.formats import read_timeline
from timeline.records import ClipStatus, MediaMap, SpottedClip
from timeline.result import is_foley_track
from timeline.spotting import spot_clips

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".mov", ".m4v", ".mkv", ".avi", ".mxf", ".webm", ".mpg", ".mpeg", ".mts", ".m2ts"}
)
AUDIO_SUFFIXES = frozenset(
    {".wav", ".bwf", ".flac", ".aif", ".aiff", ".mp3", ".m4a", ".aac", ".ogg", ".opus", ".caf"}
)
PROMPT_SUFFIX = ".txt"


def discover(
    sources: Sequence[Path],
    *,
    media_map: MediaMap = MediaMap(),  # noqa: B008 - a frozen record, safe as a default
    audio_tracks: Sequence[str] = (),
    default_prompt: str = "",
) -> Discovery:
    """Pairs from every DATA path: folders are scanned for video/audio pairs, files are read as
    timelines. Problems from all sources are gathered, not raised."""
    pairs: list[TrainingPair] = []
    problems: list[str] = []
    notes: list[str] = []
    for source in sources:
        if source.is_dir():
            found = pairs_in_folder(source, default_prompt=default_prompt)
        elif source.is_file():
            found = pairs_in_timeline(
                source, media_map=media_map, audio_tracks=audio_tracks, prompt=default_prompt
            )
        else:
            found = Discovery((), (f"{source}: no such file or folder",))
        pairs.extend(found.pairs)
        problems.extend(found.problems)
        notes.extend(found.notes)
    return Discovery(tuple(pairs), tuple(problems), tuple(notes))


# -- folders ------------------------------------------------------------------------------------


def pairs_in_folder(folder: Path, *, default_prompt: str = "") -> Discovery:
    """Video/audio pairs by relative path and base name under `folder` (recursive)."""
    videos: dict[str, list[Path]] = {}
    audios: dict[str, list[Path]] = {}
    for path in _files(folder):
        suffix = path.suffix.lower()
        key = path.relative_to(folder).with_suffix("").as_posix()
        if suffix in VIDEO_SUFFIXES:
            videos.setdefault(key, []).append(path)
        elif suffix in AUDIO_SUFFIXES:
            audios.setdefault(key, []).append(path)
    problems: list[str] = []
    if not videos and not audios:
        problems.append(
            f"{folder}: no video ({', '.join(sorted(VIDEO_SUFFIXES))}) or audio "
            f"({', '.join(sorted(AUDIO_SUFFIXES))}) files found"
        )
    for kind, found in (("video", videos), ("audio", audios)):
        for key, paths in sorted(found.items()):
            if len(paths) > 1:
                names = ", ".join(path.name for path in paths)
                problems.append(
                    f"{folder / key}: several {kind} files share this name ({names}); keep one"
                )
    for key in sorted(set(videos) - set(audios)):
        problems.append(
            f"unpaired video {videos[key][0]}: no audio file named {key}.wav (or another audio "
            "type) beside it"
        )
    for key in sorted(set(audios) - set(videos)):
        problems.append(
            f"unpaired audio {audios[key][0]}: no video file named {key}.mp4 (or another video "
            "type) beside it"
        )
    pairs: list[TrainingPair] = []
    for key in sorted(set(videos) & set(audios)):
        if len(videos[key]) > 1 or len(audios[key]) > 1:
            continue
        video, audio = videos[key][0], audios[key][0]
        try:
            duration = probe(video).duration_s
        except MediaError as error:
            problems.append(f"unreadable video {video}: {error}")
            continue
        if not duration > 0:
            problems.append(f"unreadable video {video}: it declares no duration")
            continue
        pairs.append(
            TrainingPair(
                pair_id=_pair_id("folder", str(video.resolve()), str(audio.resolve())),
                origin=f"{video.name} + {audio.name}",
                picture=MediaSpan(video, 0.0, duration, 1.0, duration),
                audio=AudioSpan(audio, 0.0, duration),
                prompt=_sidecar_prompt(folder / key, default_prompt),
                whole_files=True,
            )
        )
    return Discovery(tuple(pairs), tuple(problems))


def _files(folder: Path) -> Iterable[Path]:
    """Files under `folder`, sorted, hidden files and folders left out."""
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file():
            yield path


def _sidecar_prompt(stem: Path, default: str) -> str:
    text_file = stem.with_name(stem.name + PROMPT_SUFFIX)
    if text_file.is_file():
        try:
            return text_file.read_text(encoding="utf-8").strip() or default
        except (OSError, UnicodeDecodeError):
            return default
    return default


# -- timelines ----------------------------------------------------------------------------------


def pairs_in_timeline(
    path: Path,
    *,
    media_map: MediaMap = MediaMap(),  # noqa: B008 - a frozen record, safe as a default
    audio_tracks: Sequence[str] = (),
    prompt: str = "",
) -> Discovery:
    """Each picture clip of the timeline `path` paired with its longest-overlapping Foley clip."""
    try:
        loaded = read_timeline(path)
        pictures = spot_clips(
            loaded.timeline, media_map, media_start_timecode=_start_timecode, source_name=str(path)
        )
        view, names = _audio_view(loaded.timeline, audio_tracks, path)
        sounds = spot_clips(view, media_map, source_name=str(path)) if len(view.tracks) else []
    except TimelineError as error:
        return Discovery((), (f"timeline {path} cannot be used: {error}",))
    except _TrackChoiceError as error:
        return Discovery((), (str(error),))
    if not names:
        return Discovery((), (f"timeline {path}: no audio tracks with Foley to pair with",))
    sounds = [sound for sound in sounds if not _unplayable(sound)]
    pairs: list[TrainingPair] = []
    problems: list[str] = []
    notes: list[str] = []
    used: set[str] = set()
    for picture in pictures:
        where = f"{path.name}: V{picture.track_index} clip {picture.name!r}"
        where += f" at {picture.record_timecode}"
        if picture.status == ClipStatus.SKIPPED:
            if picture.media_url is not None and picture.media_path is None:
                problems.append(f"{where}: {picture.reason}")
            else:
                notes.append(f"{where} is not used: {picture.reason}")
            continue
        sound = _longest_overlap(picture, sounds)
        if sound is None:
            problems.append(
                f"unpaired picture {where}: no Foley clip overlaps it on "
                f"{', '.join(names.values())}"
            )
            continue
        used.add(sound.clip_id)
        pair, problem = _timeline_pair(path, picture, sound, names[sound.track_index], prompt)
        if problem:
            problems.append(f"{where}: {problem}")
        elif pair is not None:
            pairs.append(pair)
    unused = [sound for sound in sounds if sound.clip_id not in used]
    if unused:
        notes.append(
            f"{path.name}: {len(unused)} audio clip(s) overlap no picture clip and are not used"
        )
    return Discovery(tuple(pairs), tuple(problems), tuple(notes))


class _TrackChoiceError(ValueError):
    pass


def _start_timecode(media: Path) -> float | None:
    return probe(media).start_timecode_s


def _audio_view(
    timeline: otio.schema.Timeline, wanted: Sequence[str], path: Path
) -> tuple[otio.schema.Timeline, dict[int, str]]:
    """A timeline holding the chosen audio tracks relabelled as video, so that spotting places
    their clips; and the view's track numbers -> the editor's names ("A2 'FX'")."""
    audio = [
        track
        for track in timeline.tracks
        if isinstance(track, otio.schema.Track) and track.kind == otio.schema.TrackKind.Audio
    ]
    labelled = list(enumerate(audio, start=1))
    if wanted:
        chosen = [(index, track) for index, track in labelled if _track_named(index, track, wanted)]
        missing = [
            token
            for token in wanted
            if not any(_track_named(index, track, [token]) for index, track in labelled)
        ]
        if missing:
            listing = ", ".join(f"A{index} {track.name!r}" for index, track in labelled) or "none"
            raise _TrackChoiceError(
                f"timeline {path}: audio track(s) {', '.join(missing)} not found "
                f"(audio tracks: {listing})"
            )
    else:
        chosen = [(index, track) for index, track in labelled if not is_foley_track(track)]
    view = otio.schema.Timeline(name=timeline.name)
    view.metadata.update(timeline.metadata)
    view.global_start_time = timeline.global_start_time
    names: dict[int, str] = {}
    for index, track in chosen:
        copy = track.deepcopy()
        copy.kind = otio.schema.TrackKind.Video
        view.tracks.append(copy)
        names[len(view.tracks)] = f"A{index} {track.name!r}".rstrip()
    return view, names


def _track_named(index: int, track: otio.schema.Track, tokens: Iterable[str]) -> bool:
    for token in tokens:
        text = token.strip()
        number = text[1:] if text[:1] in ("A", "a") else text
        if number.isdigit() and int(number) == index:
            return True
        if text == track.name:
            return True
    return False


def _unplayable(sound: SpottedClip) -> bool:
    """Audio clips that are not Foley material at all (generators, disabled, hidden)."""
    return sound.status == ClipStatus.SKIPPED and sound.media_url is None


def _longest_overlap(picture: SpottedClip, sounds: Sequence[SpottedClip]) -> SpottedClip | None:
    best, best_frames = None, 0
    start = picture.record_start_frame
    end = start + picture.record_duration_frames
    for sound in sounds:
        low = max(start, sound.record_start_frame)
        high = min(end, sound.record_start_frame + sound.record_duration_frames)
        if high - low > best_frames:
            best, best_frames = sound, high - low
    return best


def _timeline_pair(
    path: Path, picture: SpottedClip, sound: SpottedClip, track: str, prompt: str
) -> tuple[TrainingPair | None, str]:
    """The pair over the picture clip's record range, or the reason there is none."""
    label = f"Foley clip {sound.name!r} on {track}"
    if sound.status == ClipStatus.SKIPPED or sound.media_path is None:
        return None, f"{label} cannot be used: {sound.reason or 'its media was not found'}"
    if sound.time_scalar != 1:
        return None, (
            f"{label} plays at speed {sound.time_scalar:g}; retimed Foley is not used for "
            "training (render it at speed 1 first)"
        )
    rate = picture.rate
    start = max(picture.record_start_frame, sound.record_start_frame)
    end = min(
        picture.record_start_frame + picture.record_duration_frames,
        sound.record_start_frame + sound.record_duration_frames,
    )
    if end - start < picture.record_duration_frames - 1:
        return None, (
            f"audio shorter than its picture: the clip lasts "
            f"{float(picture.record_duration_frames / rate):.2f} s but {label} covers only "
            f"{float((end - start) / rate):.2f} s of it"
        )
    picture_span = _picture_span(picture, start, end)
    if picture_span.start_s < 0:
        return None, "its picture starts before the first frame of its media"
    audio_start = sound.media_start_s + float(Fraction(start - sound.record_start_frame) / rate)
    if audio_start < 0:
        return None, f"{label} starts before the first sample of {sound.media_path.name}"
    duration = float(Fraction(end - start) / rate)
    pair = TrainingPair(
        pair_id=_pair_id("timeline", str(path.resolve()), picture.clip_id, sound.clip_id),
        origin=(
            f"{path.name} V{picture.track_index} {picture.name!r} at {picture.record_timecode}"
            f" + {track} {sound.name!r}"
        ),
        picture=picture_span,
        audio=AudioSpan(sound.media_path, audio_start, duration),
        prompt=picture.prompt or sound.prompt or prompt,
    )
    return pair, ""


def _picture_span(picture: SpottedClip, start: int, end: int) -> MediaSpan:
    """The media the picture clip plays during record frames [start, end)."""
    assert picture.media_path is not None
    rate = picture.rate
    speed = abs(picture.time_scalar)
    into = float(Fraction(start - picture.record_start_frame) / rate)
    record_s = float(Fraction(end - start) / rate)
    if picture.time_scalar >= 0:
        media_start = picture.media_start_s + into * speed
    else:
        # A reversed clip plays its media range backwards from its end.
        media_start = picture.media_start_s + picture.media_duration_s - (into + record_s) * speed
    return MediaSpan(
        path=picture.media_path,
        start_s=round(media_start, 9) + 0.0,
        duration_s=record_s * speed,
        time_scalar=picture.time_scalar,
        record_duration_s=record_s,
    )


def _pair_id(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:16]
