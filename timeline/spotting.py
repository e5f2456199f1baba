"""Spot every picture clip of a timeline as a plain `SpottedClip` record, or say why not.

A clip is spotted when it plays (enabled, visible after its parents' trims) and its media is
found on this machine; every other picture clip is reported as skipped with a reason a user can
act on (disabled, generator, no media reference, media not found or ambiguous).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from timeline.errors import AmbiguousMedia, InvalidRate, MediaNotFound, TimelineError
from timeline.metadata import keys_of, lookup
from timeline.placement import ClipPlacement, clip_placements
from timeline.rates import TimecodeClock, can_carry_timecode, exact_rate
from timeline.records import ClipStatus, MediaMap, SpottedClip
from timeline.relink import MediaResolver
from timeline.timebase import NAMESPACE, Timebase, timebase_of

MediaStartTimecode = Callable[[Path], Fraction | float | None]
"""Returns a media file's own start timecode in seconds since 00:00:00:00, or None if it has
none (the media layer's probe: timecode track or metadata)."""

PROMPT_MARKER_PREFIX = "foley:"

# Media times are computed in double seconds; nanosecond rounding hides the last-digit noise of
# frame arithmetic at NTSC rates without moving anything by a measurable amount.
_MEDIA_DECIMALS = 9
_FRAME_DECIMALS = 6


def spot_clips(
    timeline: otio.schema.Timeline,
    media_map: MediaMap = MediaMap(),  # noqa: B008 - a frozen record, safe as a default
    *,
    media_start_timecode: MediaStartTimecode | None = None,
    source_name: str | None = None,
) -> list[SpottedClip]:
    """Every picture clip of `timeline`, spotted or skipped, in track then record-time order.

    `media_start_timecode(path)` is asked for a file's start timecode only when the timeline
    gives its media no available range. Raises InvalidRange / InvalidRate (naming the clip, and
    `source_name` as the file) for broken ranges and rates.
    """
    try:
        timebase = timebase_of(timeline)
        spotter = _Spotter(timebase, MediaResolver(media_map), media_start_timecode)
        placements = clip_placements(timeline)
        placements.sort(key=spotter.order)
        return [spotter.spot(placement) for placement in placements]
    except TimelineError as error:
        if source_name is None or error.file:
            raise
        raise error.with_file(source_name) from None


def clip_prompt(clip: otio.schema.Clip) -> str:
    """The clip's Foley prompt: metadata `foley.prompt`, else a marker on the clip, else ''.

    Markers whose text starts with 'foley:' win over other markers; a marker's name is used,
    else its comment.
    """
    metadata = clip.metadata
    # The keys are listed once: each listing crosses the bindings (see timeline.metadata).
    keys = keys_of(metadata)
    ours = metadata[NAMESPACE] if NAMESPACE in keys else None
    ours = ours if isinstance(ours, Mapping) else None
    prompt = lookup(ours, "prompt") if ours is not None else None
    flat_key = f"{NAMESPACE}.prompt"
    if not (isinstance(prompt, str) and prompt.strip()) and flat_key in keys:
        prompt = metadata[flat_key]
    if isinstance(prompt, str) and prompt.strip():
        return prompt.strip()
    markers = clip.markers
    if not len(markers):
        return ""
    texts = []
    for marker in markers:
        for text in (marker.name, marker.comment):
            if isinstance(text, str) and text.strip():
                texts.append(text.strip())
    for text in texts:
        if text.lower().startswith(PROMPT_MARKER_PREFIX):
            return text[len(PROMPT_MARKER_PREFIX) :].strip()
    return texts[0] if texts else ""


class _Spotter:
    def __init__(
        self,
        timebase: Timebase,
        resolver: MediaResolver,
        media_start_timecode: MediaStartTimecode | None,
    ) -> None:
        self._timebase = timebase
        self._rate = float(timebase.rate)
        self._resolver = resolver
        self._probe = media_start_timecode
        self._probed: dict[Path, float | Exception | None] = {}
        self._rates: dict[float, tuple[Fraction, float]] = {}  # OTIO's double -> exact, float
        self._clocks: dict[float, TimecodeClock | None] = {}
        self._occurrences: dict[str, int] = {}

    def order(self, placement: ClipPlacement) -> tuple[int, int]:
        """Track, then record start frame (0 for hidden clips, as `spot` reports them)."""
        if placement.record_end_s > placement.record_start_s:
            return placement.track_index, round(placement.record_start_s * self._rate)
        return placement.track_index, 0

    def spot(self, placement: ClipPlacement) -> SpottedClip:
        """One clip, spotted or skipped; call in the final order (ids count repeats)."""
        clip = placement.clip
        rate = self._rate
        reasons: list[str] = []
        extra: dict = {}
        if placement.nested_in:
            extra["nested_in"] = list(placement.nested_in)
        if placement.time_effect_notes:
            extra["time_effect_notes"] = list(placement.time_effect_notes)

        visible = placement.record_end_s > placement.record_start_s
        if visible:
            start = round(placement.record_start_s * rate)
            end = round(placement.record_end_s * rate)
            visible_start = round(placement.visible_start_s * rate)
            visible_end = round(placement.visible_end_s * rate)
        else:
            start = end = visible_start = visible_end = 0
        if placement.disabled_by:
            reasons.append(placement.disabled_by)
        if not visible:
            reasons.append("hidden: its parent's trim leaves nothing of it on the record")
        elif end <= start:
            reasons.append("shorter than one frame after its parent's trim")

        scalar = placement.time_scalar
        first = placement.media_time_at(start / rate)
        last = placement.media_time_at(end / rate)
        media_in = min(first, last)
        media_duration = abs(last - first)

        reference = clip.media_reference
        media_url, media_path = self._media(reference, reasons, extra)
        origin, media_rate = self._origin(clip, reference, media_path, reasons, extra)
        media_fps = media_rate[1] if media_rate else 0.0
        media_start_s = round(media_in - origin, _MEDIA_DECIMALS) + 0.0  # no -0.0
        if media_start_s < 0:
            extra["media_notes"] = [f"starts {-media_start_s:.3f} s before the media's first frame"]

        media_start_frame = media_duration_frames = 0.0
        media_timecode = ""
        if media_rate is not None:
            media_start_frame = round(media_in * media_fps, _FRAME_DECIMALS) + 0.0
            media_duration_frames = round(media_duration * media_fps, _FRAME_DECIMALS)
            clock = self._clock(media_rate)
            if clock is not None and media_start_frame >= 0:
                media_timecode = clock.timecode(math.floor(media_start_frame + 1e-6))

        name = clip.name
        media_duration_s = round(media_duration, _MEDIA_DECIMALS)
        identity = _identity(clip, name, media_url, media_in, media_duration_s, scalar, end - start)
        return SpottedClip(
            clip_id=self._clip_id(identity),
            track_index=placement.track_index,
            track_name=placement.track_name,
            name=name,
            status=ClipStatus.SKIPPED if reasons else ClipStatus.SPOTTED,
            reason="; ".join(reasons),
            rate=self._timebase.rate,
            record_start_frame=start,
            record_duration_frames=end - start,
            record_timecode=self._timebase.timecode(start),
            timeline_start_frame=self._timebase.start_frame,
            media_url=media_url,
            media_path=media_path,
            media_start_s=media_start_s,
            media_duration_s=media_duration_s,
            time_scalar=scalar,
            visible_start_frame=visible_start,
            visible_duration_frames=visible_end - visible_start,
            prompt=clip_prompt(clip),
            otio_path=placement.otio_path,
            extra=extra,
            media_rate=media_rate[0] if media_rate else None,
            media_start_frame=media_start_frame,
            media_duration_frames=media_duration_frames,
            media_timecode=media_timecode,
        )

    def _clip_id(self, identity: str) -> str:
        """An id that depends only on what the clip plays, not where it sits.

        The identity holds the clip's name, media and the media range it consumes at its
        speed, so the id is the same on every read of the edit and survives edits elsewhere
        (ripples, new tracks). Identical clips are told apart by their order.
        """
        occurrence = self._occurrences.get(identity, 0)
        self._occurrences[identity] = occurrence + 1
        digest = hashlib.sha1(f"{identity}\x1f{occurrence}".encode()).hexdigest()[:16]
        return f"clip-{digest}"

    def _media(
        self, reference: otio.core.MediaReference, reasons: list[str], extra: dict
    ) -> tuple[str | None, Path | None]:
        """(URL as written, resolved path); appends a reason when the media is unusable."""
        if isinstance(reference, otio.schema.ExternalReference):
            url = reference.target_url
            if not url:
                reasons.append("its media reference has no URL")
                return None, None
            return url, self._resolve(url, reasons)
        if isinstance(reference, otio.schema.ImageSequenceReference):
            return self._image_sequence(reference, reasons, extra)
        if isinstance(reference, otio.schema.GeneratorReference):
            kind = reference.generator_kind or reference.name or "generator"
            reasons.append(f"generator ({kind}): it has no picture media to watch")
            return None, None
        if isinstance(reference, otio.schema.MissingReference):
            reasons.append("no media reference (MissingReference): the edit names no file")
            return None, None
        reasons.append(f"unsupported media reference type {type(reference).__name__}")
        return None, None

    def _image_sequence(
        self,
        reference: otio.schema.ImageSequenceReference,
        reasons: list[str],
        extra: dict,
    ) -> tuple[str | None, Path | None]:
        padding = reference.frame_zero_padding
        number = f"%0{padding}d" if padding > 0 else "%d"
        pattern = f"{reference.name_prefix}{number}{reference.name_suffix}"
        url = reference.target_url_base
        url = (url if url.endswith("/") else url + "/") + pattern
        extra["image_sequence"] = {
            "pattern": pattern,
            "start_frame": reference.start_frame,
            "frame_step": reference.frame_step,
            "rate": reference.rate,
        }
        first_frame = self._resolve(reference.target_url_for_image_number(0), reasons)
        if first_frame is None:
            return url, None
        return url, first_frame.parent / pattern

    def _resolve(self, url: str, reasons: list[str]) -> Path | None:
        try:
            return self._resolver.resolve(url)
        except (MediaNotFound, AmbiguousMedia) as error:
            reasons.append(error.detail)
            return None

    def _origin(
        self,
        clip: otio.schema.Clip,
        reference: otio.core.MediaReference,
        media_path: Path | None,
        reasons: list[str],
        extra: dict,
    ) -> tuple[float, tuple[Fraction, float] | None]:
        """The media time of the file's first frame (seconds) and the media's frame rate."""
        available = reference.available_range
        if available is not None:
            start = available.start_time  # each access is a call into the bindings
            rate = self._exact(start.rate, clip)
            extra["media_origin"] = "available_range"
            return start.value / rate[1], rate
        source_range = clip.source_range
        rate = self._exact(source_range.start_time.rate, clip) if source_range else None
        if media_path is not None and self._probe is not None:
            start = self._probed_start(media_path, reasons)
            if start is not None:
                extra["media_origin"] = "file timecode"
                return start, rate
        extra["media_origin"] = "assumed 00:00:00:00 (no available range, no file timecode)"
        return 0.0, rate

    def _probed_start(self, path: Path, reasons: list[str]) -> float | None:
        if path not in self._probed:
            assert self._probe is not None
            try:
                value = self._probe(path)
                self._probed[path] = None if value is None else float(value)
            # The probe belongs to the media layer; whatever it raises is this clip's problem,
            # reported as its skip reason rather than failing the whole timeline.
            except Exception as error:
                self._probed[path] = error
        probed = self._probed[path]
        if isinstance(probed, Exception):
            reasons.append(f"could not read the start timecode of {path}: {probed}")
            return None
        return probed

    def _clock(self, media_rate: tuple[Fraction, float]) -> TimecodeClock | None:
        """Media timecode is shown drop frame only when the timeline's own is, at its rate."""
        exact, fps = media_rate
        if fps not in self._clocks:
            self._clocks[fps] = (
                TimecodeClock(
                    exact, drop_frame=self._timebase.drop_frame and exact == self._timebase.rate
                )
                if can_carry_timecode(exact)
                else None
            )
        return self._clocks[fps]

    def _exact(self, rate: float, clip: otio.schema.Clip) -> tuple[Fraction, float]:
        exact = self._rates.get(rate)
        if exact is None:
            try:
                fraction = exact_rate(rate, what="media rate")
            except InvalidRate as error:
                raise InvalidRate(error.detail, clip=clip.name) from None
            exact = self._rates[rate] = (fraction, float(fraction))
        return exact


def _identity(
    clip: otio.schema.Clip,
    name: str,
    url: str | None,
    media_in: float,
    media_duration_s: float,
    time_scalar: float,
    record_frames: int,
) -> str:
    """What the clip plays, as text: absolute media time, so probing a file changes nothing."""
    if url is None:
        reference = clip.media_reference
        kind = getattr(reference, "generator_kind", "") or reference.name
        url = f"{type(reference).__name__}:{kind}"
    return (
        f"{name}\x1f{url}\x1f{media_in:.6f}\x1f{media_duration_s:.6f}\x1f{time_scalar:.9g}"
        f"\x1f{record_frames}"
    )
