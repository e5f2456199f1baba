"""FCPXML (Final Cut Pro) in the editor's own document.

Reading: OpenTimelineIO's FCPXML reader drops the sequence's start timecode (`tcStart`: clips
land after a leading gap as long as the start), its drop-frame style (`tcFormat="DF"`), the
`enabled="0"` of disabled clips, and labels NTSC times with the whole rate (23 for 23.976).
`apply_document_facts` puts those back on the timeline read.

Writing: `patch_document` adds one `<asset>` per Foley audio file to `<resources>` and one
audio `<asset-clip>` per Foley clip, connected to the storyline element under its record start
on a lane below every existing one (one lane per Foley track, so Final Cut Pro shows them as
rows under the picture), with the audio role `Foley.Foley V1`. Nothing else is touched.
"""

from __future__ import annotations

import bisect
import functools
import logging
import math
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path, PurePath

import opentimelineio as otio
from lxml import etree

from timeline.errors import MalformedTimeline, ResultError
from timeline.native_xml import (
    IdMaker,
    Indentation,
    StandIn,
    child_indentation,
    element_label,
    insert_children,
    insert_text,
    used_ids,
    xml_attribute,
)
from timeline.result import FoleyLane, audio_url
from timeline.timebase import NAMESPACE

log = logging.getLogger(__name__)

Element = etree._Element
RationalTime = otio.opentime.RationalTime
TimeRange = otio.opentime.TimeRange

FOLEY_ROLE = "Foley"
# Storyline elements a connected clip can hang from (transitions cannot hold one).
_ANCHORS = {
    "asset-clip",
    "clip",
    "ref-clip",
    "sync-clip",
    "mc-clip",
    "gap",
    "title",
    "video",
    "audio",
    "audition",
    "live-drawing",
}
# Children that must follow anchored items inside a clip (FCPXML DTD order).
_AFTER_ANCHORED = {
    "marker",
    "chapter-marker",
    "rating",
    "keyword",
    "analysis-marker",
    "audio-role-source",
    "filter-video",
    "filter-video-mask",
    "filter-audio",
    "metadata",
}


def parse_time(value: str | None, *, element: Element, file: str) -> Fraction:
    """An FCPXML time ("1001/24000s", "3600s", "0s") as exact seconds."""
    if value is None:
        return Fraction(0)
    try:
        return _seconds(value)
    except (ValueError, ZeroDivisionError) as error:
        raise MalformedTimeline(
            f"{element_label(element)}: {value!r} is not an FCPXML time", file=file
        ) from error


@functools.lru_cache(maxsize=4096)
def _seconds(value: str) -> Fraction:
    """Durations and starts repeat across a document: each distinct text is parsed once, and
    "n/ds" as two integers (Fraction's own string parsing is a regular expression)."""
    text = value.strip()
    if not text.endswith("s"):
        raise ValueError(text)
    numerator, slash, denominator = text[:-1].partition("/")
    if slash and numerator.isdigit() and denominator.isdigit():
        return Fraction(int(numerator), int(denominator))
    return Fraction(text[:-1])


def lane_of(element: Element, file: str) -> int:
    """An element's `lane` (0 when absent); MalformedTimeline when it is not an integer."""
    text = element.get("lane", "0")
    try:
        return int(text)
    except ValueError as error:
        raise MalformedTimeline(f"{element_label(element)}: lane {text!r}", file=file) from error


def format_time(seconds: Fraction) -> str:
    if seconds.denominator == 1:
        return f"{seconds.numerator}s"
    return f"{seconds.numerator}/{seconds.denominator}s"


def timeline_sequences(root: Element) -> list[tuple[str, Element]]:
    """(name, sequence) for every project, else every compound clip, in document order."""
    if root.tag != "fcpxml":
        raise MalformedTimeline(f"the root element is <{root.tag}>, not <fcpxml>")
    projects = [
        (project.get("name", ""), sequence)
        for project in root.iter("project")
        if (sequence := project.find("sequence")) is not None
    ]
    if projects:
        return projects
    return [
        (media.get("name", ""), sequence)
        for media in root.iterfind("./resources/media")
        if (sequence := media.find("sequence")) is not None
    ]


def find_sequence(root: Element, timeline_name: str, *, file: str) -> Element:
    sequences = timeline_sequences(root)
    for name, sequence in sequences:
        if name == timeline_name:
            return sequence
    if len(sequences) == 1:
        return sequences[0][1]
    raise ResultError(f"no project named {timeline_name!r} to add the Foley to", file=file)


def frame_duration(root: Element, sequence: Element, *, file: str) -> Fraction:
    format_id = sequence.get("format")
    for candidate in root.iterfind("./resources/format"):
        if candidate.get("id") == format_id:
            duration = parse_time(candidate.get("frameDuration"), element=candidate, file=file)
            if duration > 0:
                return duration
    raise ResultError(
        f"{element_label(sequence)}: its format {format_id!r} names no frameDuration", file=file
    )


def check_unique_ids(root: Element, *, file: str) -> None:
    """Resource ids are references; two resources with one id make every `ref` ambiguous."""
    seen: dict[str, Element] = {}
    for element in root.iter():
        identifier = element.get("id") if isinstance(element.tag, str) else None
        if identifier is None:
            continue
        first = seen.setdefault(identifier, element)
        if first is not element:
            raise MalformedTimeline(
                f"duplicate id: {element_label(element)} and {element_label(first)}", file=file
            )


# --- reading what the adapter drops --------------------------------------------------------------


def apply_document_facts(
    timeline: otio.schema.Timeline, root: Element, *, file: str
) -> tuple[str, ...]:
    """Put the sequence's start and timecode style, the exact NTSC rate and disabled clips
    on the timeline read by OTIO's FCPXML adapter."""
    try:
        sequence = find_sequence(root, str(timeline.name or ""), file=file)
        frame = frame_duration(root, sequence, file=file)
    except ResultError as error:
        log.warning("%s: document facts not applied: %s", file, error.detail)
        return ()
    rate = float(1 / frame)
    labelled = float(int(rate))
    if abs(rate - round(rate)) > 1e-6:
        _relabel_rates(timeline, labelled, rate)
    start_s = parse_time(sequence.get("tcStart"), element=sequence, file=file)
    notes: list[str] = []
    if start_s > 0:
        start_frames = float(start_s / frame)
        for track in timeline.tracks:
            if isinstance(track, otio.schema.Track):
                _remove_lead(track, start_frames, rate)
        timeline.global_start_time = RationalTime(round(start_frames), rate)
    elif timeline.global_start_time is None:
        timeline.global_start_time = RationalTime(0, rate)
    tc_format = sequence.get("tcFormat")
    if tc_format in ("DF", "NDF"):
        ours = dict(timeline.metadata.get(NAMESPACE, {}))
        ours["drop_frame"] = tc_format == "DF"
        timeline.metadata[NAMESPACE] = ours
    _apply_enabled(timeline, sequence)
    _audio_only_tracks(timeline, root)
    _exact_timing(timeline, sequence, frame, start_s, file)
    return tuple(notes)


_STORY_CLIPS = {
    "asset-clip",
    "clip",
    "ref-clip",
    "sync-clip",
    "mc-clip",
    "title",
    "video",
    "audio",
    "audition",
}


def _exact_timing(
    timeline: otio.schema.Timeline,
    sequence: Element,
    frame: Fraction,
    start_s: Fraction,
    file: str,
) -> None:
    """Record positions, durations and asset-clip / ref-clip source starts from the document's
    exact times, for each lane track whose clips match the document's one to one; then the
    same inside each compound clip (`ref-clip`) of a rebuilt lane, from its own sequence.

    The adapter computes them at the whole rate (a 48-frame 23.976 clip reads as 46).
    """
    root = sequence.getroottree().getroot()
    # Ids are unique in the document (check_unique_ids), so one table serves assets and media.
    resources = {
        element.get("id"): element
        for element in root.iterfind("./resources/*")
        if element.tag in ("asset", "media", "format")
    }
    _exact_lanes(timeline.tracks, sequence, frame, start_s, file, resources, 0)


# Compound clips nest; the reader refuses deeper nesting (a cycle), this stops there too.
_MAX_COMPOUND_DEPTH = 64


def _exact_lanes(
    stack: otio.schema.Stack,
    sequence: Element,
    frame: Fraction,
    start_s: Fraction,
    file: str,
    resources: dict[str | None, Element],
    depth: int,
) -> None:
    spine = sequence.find("spine")
    if spine is None or depth > _MAX_COMPOUND_DEPTH:
        return
    lanes: dict[int, list[tuple[Element, Fraction, Fraction]]] = {}
    for child in spine:
        if not isinstance(child.tag, str) or child.get("offset") is None:
            continue
        offset = parse_time(child.get("offset"), element=child, file=file)
        local = parse_time(child.get("start"), element=child, file=file)
        if child.tag in _STORY_CLIPS:
            duration = parse_time(child.get("duration"), element=child, file=file)
            lanes.setdefault(0, []).append((child, offset, duration))
        for connected in child:
            lane = connected.get("lane") if isinstance(connected.tag, str) else None
            if lane is None or connected.tag not in _STORY_CLIPS:
                continue
            at = offset + parse_time(connected.get("offset"), element=connected, file=file) - local
            duration = parse_time(connected.get("duration"), element=connected, file=file)
            lanes.setdefault(lane_of(connected, file), []).append((connected, at, duration))
    rate = float(1 / frame)
    ranges: dict[tuple[str | None, Fraction], TimeRange | None] = {}
    for track in stack:
        if not isinstance(track, otio.schema.Track):
            continue
        try:
            lane_number = int(track.name)
        except ValueError:
            continue
        elements = lanes.get(lane_number, [])
        items = [item for item in track if not isinstance(item, otio.schema.Gap)]
        if len(items) != len(elements) or not all(
            isinstance(item, otio.schema.Clip | otio.schema.Stack)
            and _named_as(item.name, element, resources)
            for item, (element, _, _) in zip(items, elements, strict=False)
        ):
            log.info("%s: lane %s does not match the document one to one; kept", file, track.name)
            continue
        rebuilt: list[otio.core.Composable] = []
        compounds: list[tuple[otio.schema.Stack, Element]] = []
        position = 0
        for item, (element, at, duration) in zip(items, elements, strict=True):
            record = _frames(at - start_s if start_s else at, frame)
            length = _frames(duration, frame)
            if record < position:
                break  # overlapping items on one lane: leave the adapter's layout
            if record > position:
                rebuilt.append(otio.schema.Gap(duration=RationalTime(record - position, rate)))
            tag = element.tag
            local_text = element.get("start") if tag in ("asset-clip", "ref-clip") else None
            if local_text is not None:
                local = parse_time(local_text, element=element, file=file)
                start = RationalTime(_frames(local, frame), rate)
            else:
                current = item.source_range
                start = current.start_time.rescaled_to(rate) if current else RationalTime(0, rate)
            item.source_range = TimeRange(start, RationalTime(length, rate))
            if tag == "asset-clip" and isinstance(item, otio.schema.Clip):
                _exact_available_range(item, element, frame, file, resources, ranges)
            rebuilt.append(item)
            if tag == "ref-clip" and isinstance(item, otio.schema.Stack):
                compounds.append((item, element))
            position = record + length
        else:
            del track[:]
            track.extend(rebuilt)
            for compound, element in compounds:
                _exact_compound(compound, element, file, resources, depth)


def _frames(time: Fraction, frame: Fraction) -> int:
    """round(time / frame), half to even as Fraction rounds, without building Fractions
    (a few microseconds each, ten thousand clips' worth a tenth of a second)."""
    numerator = time.numerator * frame.denominator
    denominator = time.denominator * frame.numerator
    quotient, remainder = divmod(numerator, denominator)
    twice = remainder * 2
    if twice < denominator or (twice == denominator and quotient % 2 == 0):
        return quotient
    return quotient + 1


def _named_as(name: str, element: Element, resources: dict[str | None, Element]) -> bool:
    """Whether the adapter may have given `element`'s item this name: its own (the item's
    when it has none); for a ref-clip (a stack named after its compound clip) the compound
    clip's too."""
    own = element.get("name")
    if not own or name == own:
        return True
    if element.tag == "ref-clip":
        media = resources.get(element.get("ref"))
        return media is not None and name == (media.get("name") or "")
    return False


def _exact_compound(
    compound: otio.schema.Stack,
    element: Element,
    file: str,
    resources: dict[str | None, Element],
    depth: int,
) -> None:
    """A compound clip's own lanes, timed in its own sequence (its format and tcStart)."""
    resource = resources.get(element.get("ref"))
    inner = resource.find("sequence") if resource is not None and resource.tag == "media" else None
    if inner is None:
        return
    try:
        frame = frame_duration(inner.getroottree().getroot(), inner, file=file)
    except ResultError:
        return
    start_s = parse_time(inner.get("tcStart"), element=inner, file=file)
    _exact_lanes(compound, inner, frame, start_s, file, resources, depth + 1)


def _exact_available_range(
    clip: otio.schema.Clip,
    element: Element,
    frame: Fraction,
    file: str,
    resources: dict[str | None, Element],
    ranges: dict[tuple[str | None, Fraction], TimeRange | None],
) -> None:
    """The media's available range from its asset's exact start and duration, at the asset's
    format (else the sequence's): the adapter counted it at the whole rate too, so an asset
    starting at 3600 s in 23.976 read 82800 frames (3453 s) and put every clip's media
    146 s late. `ranges` keeps each asset's range for the clips that share it."""
    reference = clip.media_reference
    if (
        not isinstance(reference, otio.schema.ExternalReference)
        or reference.available_range is None
    ):
        return
    key = (element.get("ref"), frame)
    if key not in ranges:
        ranges[key] = _asset_range(key[0], frame, file, resources)
    available = ranges[key]
    if available is not None:
        reference.available_range = available


def _asset_range(
    asset_id: str | None, frame: Fraction, file: str, resources: dict[str | None, Element]
) -> TimeRange | None:
    asset = resources.get(asset_id)
    if asset is None or asset.tag != "asset":
        return None
    asset_frame = frame
    format_element = resources.get(asset.get("format"))
    if format_element is not None and format_element.tag == "format":
        own = parse_time(format_element.get("frameDuration"), element=format_element, file=file)
        asset_frame = own if own > 0 else frame
    rate = float(1 / asset_frame)
    start = parse_time(asset.get("start"), element=asset, file=file)
    duration = parse_time(asset.get("duration"), element=asset, file=file)
    return TimeRange(
        RationalTime(_frames(start, asset_frame), rate),
        RationalTime(_frames(duration, asset_frame), rate),
    )


def _audio_only_tracks(timeline: otio.schema.Timeline, root: Element) -> None:
    """The adapter makes every lane a video track; a lane of audio-only assets is audio."""
    audio_only = {
        asset.get("src") or _media_rep_src(asset)
        for asset in root.iterfind("./resources/asset")
        if asset.get("hasVideo") != "1"
    }
    audio_only.discard(None)
    if not audio_only:
        return  # no audio-only asset: no lane can be audio only
    for track in timeline.tracks:
        if not isinstance(track, otio.schema.Track) or track.kind != otio.schema.TrackKind.Video:
            continue
        urls = [
            getattr(clip.media_reference, "target_url", None)
            for clip in track
            if isinstance(clip, otio.schema.Clip)
        ]
        if urls and all(url in audio_only for url in urls):
            track.kind = otio.schema.TrackKind.Audio


def _media_rep_src(asset: Element) -> str | None:
    rep = asset.find("media-rep")
    return rep.get("src") if rep is not None else None


def _relabel_rates(timeline: otio.schema.Timeline, wrong: float, right: float) -> None:
    """The adapter writes NTSC frame counts at the whole rate: same values, the real rate."""

    def fix(time: RationalTime) -> RationalTime:
        return RationalTime(time.value, right) if time.rate == wrong else time

    def fix_range(time_range: TimeRange | None) -> TimeRange | None:
        if time_range is None:
            return None
        return TimeRange(fix(time_range.start_time), fix(time_range.duration))

    for item in [timeline.tracks, *timeline.tracks.find_children()]:
        if isinstance(item, otio.schema.Transition):
            item.in_offset = fix(item.in_offset)
            item.out_offset = fix(item.out_offset)
            continue
        if isinstance(item, otio.core.Item):
            item.source_range = fix_range(item.source_range)
            for marker in item.markers:
                marker.marked_range = fix_range(marker.marked_range)
        if isinstance(item, otio.schema.Clip):
            reference = item.media_reference
            if reference.available_range is not None:
                reference.available_range = fix_range(reference.available_range)


def _remove_lead(track: otio.schema.Track, start_frames: float, rate: float) -> None:
    """The adapter puts a leading gap as long as the sequence start; take it off."""
    if not len(track) or not isinstance(track[0], otio.schema.Gap):
        return
    gap = track[0]
    duration = gap.duration().rescaled_to(rate).value
    # The adapter rounds the gap to whole frames: within a frame of the start it is the start.
    remaining = duration - start_frames
    if remaining >= 0.5:
        gap.source_range = TimeRange(RationalTime(0, rate), RationalTime(round(remaining), rate))
    elif remaining > -1:
        del track[0]


def _apply_enabled(timeline: otio.schema.Timeline, sequence: Element) -> None:
    spine = sequence.find("spine")
    if spine is None or not spine.xpath("boolean(descendant-or-self::*[@enabled='0'])"):
        return  # nothing disabled
    by_name: dict[str, list[Element]] = {}
    for element in spine.iter():
        if isinstance(element.tag, str) and element.get("name") is not None:
            by_name.setdefault(element.get("name"), []).append(element)
    used: dict[str, int] = {}
    for clip in timeline.find_clips():
        candidates = by_name.get(clip.name, [])
        index = used.get(clip.name, 0)
        used[clip.name] = index + 1
        if index < len(candidates) and candidates[index].get("enabled") == "0":
            clip.enabled = False


# --- writing the Foley ---------------------------------------------------------------------------


def patch_document(
    root: Element,
    timeline_name: str,
    lanes: list[FoleyLane],
    *,
    handles_frames: int,
    file: str,
    ids_checked: bool = False,
) -> list[StandIn]:
    """Add the Foley lanes to the project (or compound clip) named `timeline_name`, in place.

    The assets go in as stand-ins: pass what this returns to `serialize_document`.
    `ids_checked`: the document's ids were checked by `check_unique_ids` already (when it was
    read), so the check is not repeated. Raises ResultError when a Foley clip starts where the
    storyline has nothing to connect it to (after its end), MalformedTimeline for duplicate ids
    or unreadable times.
    """
    if not ids_checked:
        check_unique_ids(root, file=file)
    sequence = find_sequence(root, timeline_name, file=file)
    frame = frame_duration(root, sequence, file=file)
    spine = sequence.find("spine")
    resources = root.find("resources")
    if spine is None or resources is None:
        raise ResultError(f"{element_label(sequence)} has no <spine> or <resources>", file=file)
    start = parse_time(sequence.get("tcStart"), element=sequence, file=file)
    storyline = _Storyline(spine, frame, start, file)
    clock = storyline.clock
    frame_t = clock.of(frame)
    position_zero = clock.of(start)
    lowest = min(
        (
            lane_of(child, file)
            for child in spine.iterfind("*/*[@lane]")
            if child.getparent().tag in _ANCHORS
        ),
        default=0,
    )
    ids = IdMaker(used_ids(root))
    media_rep = _version(root) >= (1, 9)
    handles_text = clock.text(handles_frames * frame_t)
    assets: dict[str, str] = {}
    new_assets: list[str] = []
    # Nothing goes into <resources> before the assets: their layout is known now.
    asset_layout = child_indentation(resources)
    # Connected clips by the storyline element they hang from, inserted at the end in one
    # pass per element (see insert_children).
    connections: dict[Element, list[Element]] = {}
    for number, lane in enumerate(lanes, start=1):
        lane_text = str(min(lowest, 0) - number)
        role = f"{FOLEY_ROLE}.{lane.name}"
        for clip, generated in lane.clips:
            url = audio_url(generated.audio_path)
            asset_id = assets.get(url)
            if asset_id is None:
                asset_id = ids.new("r")
                assets[url] = asset_id
                total = clock.text((clip.record_duration_frames + 2 * handles_frames) * frame_t)
                new_assets.append(
                    _asset(asset_id, generated.audio_path, url, total, media_rep, asset_layout)
                )
            position = position_zero + clip.record_start_frame * frame_t
            anchor, shift = storyline.at(position, clip.name)
            try:
                connected = etree.Element(
                    "asset-clip",
                    {
                        "ref": asset_id,
                        "lane": lane_text,
                        "offset": clock.text(position + shift),
                        "name": f"Foley {clip.name}",
                        "start": handles_text,
                        "duration": clock.text(clip.record_duration_frames * frame_t),
                        "audioRole": role,
                    },
                )
            except ValueError as error:  # lxml refuses what XML cannot hold
                raise ResultError(
                    f"a clip name or path cannot be written in XML: {error}",
                    file=file,
                    clip=clip.name,
                ) from error
            connections.setdefault(anchor, []).append(connected)
    stand_ins = []
    if new_assets:
        # One run of text for all the new assets (see native_xml.insert_text).
        separator = "\n" + asset_layout.indent if asset_layout is not None else ""
        stand_in = insert_text(resources, len(resources), separator.join(new_assets))
        if stand_in is not None:
            stand_ins.append(stand_in)
    for anchor, connected_clips in connections.items():
        insert_children(anchor, _anchored_position(anchor), connected_clips)
    return stand_ins


def _version(root: Element) -> tuple[int, int]:
    try:
        major, minor = root.get("version", "1.0").split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return (1, 0)


def _asset(
    identifier: str,
    audio_path: Path,
    url: str,
    duration: str,
    media_rep: bool,
    layout: Indentation | None,
) -> str:
    """An audio asset as XML text, as lxml writes it, laid out as a new child of
    `<resources>` (see native_xml.insert_text)."""
    path = audio_path if isinstance(audio_path, PurePath) else Path(audio_path)
    attributes = (
        f'id={xml_attribute(identifier)} name={xml_attribute(path.stem)} start="0s" '
        f'duration={xml_attribute(duration)} hasAudio="1" audioSources="1" audioRate="48000"'
    )
    source = xml_attribute(url)
    if not media_rep:
        return f"<asset {attributes} src={source}/>"
    inner, outer = (layout.line(1), layout.line(0)) if layout is not None else ("", "")
    return (
        f'<asset {attributes}>{inner}<media-rep kind="original-media" src={source}/>{outer}</asset>'
    )


# The largest common unit (bits) the clock counts in; past it, times stay Fractions.
_MAX_UNIT_BITS = 128

Time = int | Fraction


class _Clock:
    """Exact FCPXML times counted in one small common unit (1/unit s) as plain integers.

    Fraction arithmetic costs microseconds an operation, ten thousand clips' worth a large part
    of a result; integers of a common unit give the very same exact values. A document whose
    denominators share no small common multiple (hand-made, hostile) keeps Fractions: the same
    arithmetic, slower, never wrong.
    """

    def __init__(self, times: Iterable[Fraction]) -> None:
        unit: int | None = 1
        for denominator in {time.denominator for time in times}:
            assert unit is not None
            unit = math.lcm(unit, denominator)
            if unit.bit_length() > _MAX_UNIT_BITS:
                unit = None
                break
        self.unit = unit

    def of(self, time: Fraction) -> Time:
        if self.unit is None:
            return time
        return time.numerator * (self.unit // time.denominator)

    def text(self, time: Time) -> str:
        """An FCPXML time ("1001/24000s", "3600s"), as `format_time` writes it."""
        if self.unit is None or isinstance(time, Fraction):
            return format_time(Fraction(time))
        divisor = math.gcd(time, self.unit)
        numerator, denominator = time // divisor, self.unit // divisor
        return f"{numerator}s" if denominator == 1 else f"{numerator}/{denominator}s"


class _Storyline:
    """The storyline elements a Foley clip can connect to, in time order, found by bisection."""

    def __init__(self, spine: Element, frame: Fraction, start: Fraction, file: str) -> None:
        found = []
        for child in spine:
            if not isinstance(child.tag, str) or child.tag not in _ANCHORS:
                continue
            offset = parse_time(child.get("offset"), element=child, file=file)
            duration = parse_time(child.get("duration"), element=child, file=file)
            local = parse_time(child.get("start"), element=child, file=file)
            found.append((child, offset, duration, local))
        self.clock = _Clock([frame, start, *(time for entry in found for time in entry[1:])])
        of = self.clock.of
        # Sorted by exact offset (stable: equal offsets keep document order), as integers.
        entries = sorted(
            (
                (of(offset), of(duration), of(local), child)
                for child, offset, duration, local in found
            ),
            key=lambda entry: entry[0],
        )
        self._elements = [entry[3] for entry in entries]
        self._offsets = [entry[0] for entry in entries]
        self._ends = [entry[0] + entry[1] for entry in entries]
        # An anchored clip's offset counts in its anchor's local time: local start - offset.
        self._shifts = [entry[2] - entry[0] for entry in entries]
        self._file = file

    def at(self, position: Time, clip: str) -> tuple[Element, Time]:
        """The element under `position` and the shift from record to its local time."""
        index = bisect.bisect_right(self._offsets, position) - 1
        if index >= 0 and position < self._ends[index]:
            return self._elements[index], self._shifts[index]
        raise ResultError(
            f"no storyline element at {self.clock.text(position)} to connect the Foley clip to",
            file=self._file,
            clip=clip,
        )


def _anchored_position(anchor: Element) -> int:
    for index, child in enumerate(anchor):
        if isinstance(child.tag, str) and child.tag in _AFTER_ANCHORED:
            return index
    return len(anchor)


def is_foley_element(element: Element) -> bool:
    """True for what `patch_document` adds: Foley assets and connected Foley audio clips."""
    if not isinstance(element.tag, str):
        return False
    if element.tag == "asset":
        return element.get("id", "").startswith("foley-")
    if element.tag == "asset-clip":
        return element.get("ref", "").startswith("foley-") and element.get(
            "audioRole", ""
        ).startswith(f"{FOLEY_ROLE}.")
    return False
