"""FCP 7 XML read straight from the document into OpenTimelineIO (the adapter's model, faster
and without its losses).

OpenTimelineIO's FCP 7 reader looks up every rate through its parents with ElementPath (a scan
of the whole track per clip: quadratic, 27 s for 10,000 clips) and builds each object through
the Python bindings; it also marks every clip and track enabled, ignores speed filters, drops
nested sequences (a clip item holding a `<sequence>` becomes an empty stack) and folds
Premiere's exploded stereo tracks into one. This reader builds the same model (names, ranges,
gaps, transitions at their cut points, markers, effects, generators, `fcp_xml` metadata as the
adapter writes it) as OTIO JSON parsed once, and keeps what the adapter drops:

- `<enabled>FALSE</enabled>` on clip items and tracks;
- every audio track, in the document's order;
- nested sequences, as stacks of their tracks;
- `timeremap` filters: constant speed as a LinearTimeWarp, reverse as a negative speed, speed 0
  (a hold) as a FreezeFrame. When `out - in` equals the record length, in and out count frames
  of the retimed clip (as Premiere and FCP 7 write them): the first media frame is
  `in * |speed|`; otherwise they are media frames. Variable speed is taken at speed 1.
"""

from __future__ import annotations

import json
from typing import Any

import opentimelineio as otio
from lxml import etree

from timeline.errors import MalformedTimeline
from timeline.native_xml import element_label

Element = etree._Element
META = "fcp_xml"
_ITEM_TAGS = ("clipitem", "generatoritem", "transitionitem")
_ITEM_IGNORED = {
    "name",
    "start",
    "end",
    "in",
    "out",
    "duration",
    "file",
    "marker",
    "effect",
    "rate",
    "sequence",
    "filter",
}


def definitions(root: Element, *, file: str) -> dict[tuple[str, str], Element]:
    """(tag, id) -> the first clip item, sequence or file with that id that has content (not
    a bare reference).

    Two different definitions under one id make every reference ambiguous: MalformedTimeline.
    Bare references (`<file id="file-1"/>`) repeating an id are how FCP 7 XML shares a
    definition, and some writers repeat a whole `<file>` definition; both are fine as long as
    the repeated file names the same media.
    """
    found: dict[tuple[str, str], Element] = {}
    for element in root.iter("clipitem", "sequence", "file"):
        identifier = element.get("id")
        if not identifier or not len(element):
            continue
        first = found.setdefault((element.tag, identifier), element)
        if first is element:
            continue
        if element.tag != "file" or _stripped_text(first, "pathurl") != _stripped_text(
            element, "pathurl"
        ):
            raise MalformedTimeline(
                f"duplicate id: {element_label(element)} and {element_label(first)} "
                "define different content under one id",
                file=file,
            )
    return found


def _stripped_text(element: Element, tag: str) -> str | None:
    text = _text(element, tag)
    return text.strip() if text is not None else None


class _Document:
    """Definitions by id (the first element with content), shared by every sequence."""

    def __init__(self, root: Element, file: str) -> None:
        # (file id, clip rate) -> (media reference JSON, start seconds): clips sharing a file
        # share one conversion.
        self.references: dict[tuple[str, float], tuple[dict[str, Any], float]] = {}
        self.definitions = definitions(root, file=file)

    def deref(self, element: Element | None) -> Element | None:
        if element is None or len(element):
            return element
        identifier = element.get("id")
        if identifier is None:
            return element
        return self.definitions.get((element.tag, identifier), element)


def read_fcp7(root: Element, *, file: str) -> otio.core.SerializableObject:
    """The document's top-level sequences as one Timeline, or a collection of them.

    Raises MalformedTimeline for what the document cannot mean, duplicate ids first (see
    `definitions`).
    """
    document = _Document(root, file)
    if root.tag != "xmeml":
        raise MalformedTimeline(f"the root element is <{root.tag}>, not <xmeml>", file=file)
    sequences = [
        document.deref(element)
        for element in [*root.iterfind("./sequence"), *root.iterfind(".//children/sequence")]
    ]
    try:
        timelines = [
            _timeline(sequence, document) for sequence in sequences if sequence is not None
        ]
    except MalformedTimeline as error:
        raise error.with_file(file) from None
    except (ValueError, TypeError, AttributeError, ZeroDivisionError) as error:
        raise MalformedTimeline(f"not a valid FCP 7 XML file: {error}", file=file) from error
    if len(timelines) == 1:
        payload: dict[str, Any] = timelines[0]
    else:
        payload = {"OTIO_SCHEMA": "SerializableCollection.1", "name": "", "children": timelines}
    # Built here as a tree of fresh dicts and lists: no cycle to look for (a seventh of the
    # encoding time).
    text = json.dumps(payload, separators=(",", ":"), check_circular=False)
    return otio.core.deserialize_json_from_string(text)


# --- small parts ---------------------------------------------------------------------------------


def _text(element: Element | None, tag: str) -> str | None:
    """The text of the first child `tag` (what `element.find(tag)` finds, without ElementPath's
    Python-level parsing of the path: a tenth of the cost)."""
    if element is None:
        return None
    for found in element.iterchildren(tag):
        return found.text
    return None


def _children(element: Element) -> dict[str, Element]:
    """Tag -> first child with it: one pass instead of a search per looked-up tag."""
    # Last to first, so that the first child with a tag is the one kept; elements only (no
    # comments or processing instructions), filtered by lxml.
    return {child.tag: child for child in element.iterchildren(etree.Element, reversed=True)}


def _child_text(children: dict[str, Element], tag: str) -> str | None:
    child = children.get(tag)
    return child.text if child is not None else None


def _rate(
    element: Element, inherited: float | None, children: dict[str, Element] | None = None
) -> float | None:
    rate = (children if children is not None else _children(element)).get("rate")
    timebase = _text(rate, "timebase")
    if timebase is None:
        return inherited
    ntsc = (_text(rate, "ntsc") or "").strip().lower() == "true"
    value = float(timebase)
    return value * 1000.0 / 1001 if ntsc else value


def _number(element: Element, tag: str, children: dict[str, Element] | None = None) -> float:
    text = _child_text(children, tag) if children is not None else _text(element, tag)
    if text is None:
        raise MalformedTimeline(f"{element_label(element)} has no <{tag}>")
    try:
        return float(text)
    except ValueError as error:
        raise MalformedTimeline(f"{element_label(element)}: <{tag}> is {text!r}") from error


def _time(value: float, rate: float) -> dict[str, Any]:
    return {"OTIO_SCHEMA": "RationalTime.1", "rate": rate, "value": value}


def _range(start: float, duration: float, rate: float) -> dict[str, Any]:
    return {
        "OTIO_SCHEMA": "TimeRange.1",
        "start_time": _time(start, rate),
        "duration": _time(duration, rate),
    }


def _name(element: Element | None) -> str:
    return (_text(element, "name") or "") if element is not None else ""


def _enabled(element: Element, children: dict[str, Element] | None = None) -> bool:
    text = _child_text(children, "enabled") if children is not None else _text(element, "enabled")
    return (text or "").strip().upper() != "FALSE"


_TIMECODE_SKIPPED = frozenset(("frame", "string"))


def _to_dict(node: Element, ignore: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """An element's attributes (`@name`) and children as nested dicts, as the adapter stores
    them; repeated tags become lists."""
    skip = _TIMECODE_SKIPPED if node.tag == "timecode" else frozenset()
    out: dict[str, Any] = {f"@{key}": value for key, value in node.attrib.items()}
    lists: set[str] = set()
    for child in node.iterchildren(etree.Element):
        tag = child.tag
        if tag in ignore or tag in skip:
            continue
        value: Any = _to_dict(child) if len(child) else child.text
        if tag in lists:
            out[tag].append(value)
        elif tag in out:
            out[tag] = [out[tag], value]
            lists.add(tag)
        else:
            out[tag] = value
    return out


def _metadata(node: Element, ignore: set[str]) -> dict[str, Any]:
    found = _to_dict(node, ignore)
    return {META: found} if found else {}


def _timecode_time(element: Element, inherited: float | None) -> tuple[float, float]:
    """(frame, rate) of a <timecode>."""
    rate = _rate(element, inherited)
    if rate is None:
        raise MalformedTimeline(f"{element_label(element)} has no rate")
    frame = _text(element, "frame")
    if frame is not None:
        return float(int(frame)), rate
    string = _text(element, "string")
    if string is None:
        raise MalformedTimeline(f"{element_label(element)} has neither <frame> nor <string>")
    return otio.opentime.from_timecode(string.strip(), rate).value, rate


def _markers(element: Element, rate: float | None) -> list[dict[str, Any]]:
    markers = []
    for marker in element.iterfind("marker"):
        if rate is None:
            raise MalformedTimeline(f"{element_label(marker)}: no rate to read it at")
        marker_in = _number(marker, "in")
        marker_out = _number(marker, "out")
        duration = marker_out - marker_in if marker_out > 0 else 0.0
        metadata = _metadata(marker, {"in", "out", "name"})
        markers.append(
            {
                "OTIO_SCHEMA": "Marker.2",
                "name": _name(marker),
                "marked_range": _range(marker_in, duration, rate),
                "color": "RED",
                "comment": "",
                "metadata": metadata,
            }
        )
    return markers


# --- sequences and tracks ------------------------------------------------------------------------


def _timeline(sequence: Element, document: _Document) -> dict[str, Any]:
    rate = _rate(sequence, None)
    metadata = _to_dict(sequence, {"name", "media", "marker", "duration"})
    timecode = sequence.find("timecode")
    global_start = None
    if timecode is not None:
        frame, tc_rate = _timecode_time(timecode, rate)
        global_start = _time(frame, tc_rate)
    media = sequence.find("media")
    tracks: list[dict[str, Any]] = []
    if media is not None:
        for kind_element in media:
            if not isinstance(kind_element.tag, str):
                continue
            media_info = _to_dict(kind_element, {"track"})
            if media_info:
                metadata.setdefault("media", {})[kind_element.tag] = media_info
        tracks = _tracks(media, rate, document)
    return {
        "OTIO_SCHEMA": "Timeline.1",
        "name": _name(sequence),
        "global_start_time": global_start,
        "metadata": {META: metadata} if metadata else {},
        "tracks": {
            "OTIO_SCHEMA": "Stack.1",
            "name": _name(sequence),
            "children": tracks,
            "markers": _markers(sequence, rate),
            "effects": [],
            "metadata": {},
            "source_range": None,
            "enabled": True,
        },
    }


def _tracks(media: Element, rate: float | None, document: _Document) -> list[dict[str, Any]]:
    tracks = []
    for kind_element in media:
        tag = kind_element.tag if isinstance(kind_element.tag, str) else ""
        if tag.lower() not in ("video", "audio"):
            continue
        kind = "Video" if tag.lower() == "video" else "Audio"
        for track in kind_element.iterfind("track"):
            tracks.append(_track(track, kind, rate, document))
    return tracks


def _track(
    track: Element, kind: str, inherited: float | None, document: _Document
) -> dict[str, Any]:
    rate = _rate(track, inherited)
    if rate is None:
        raise MalformedTimeline(f"{element_label(track)}: no rate in it or its sequence")
    children: list[dict[str, Any]] = []
    cursor = 0.0  # seconds
    items = [child for child in track if isinstance(child.tag, str) and child.tag in _ITEM_TAGS]
    head: Element | None = None
    for index, raw in enumerate(items):
        element = document.deref(raw)
        assert element is not None
        tail = items[index + 1] if index + 1 < len(items) else None
        if tail is not None and tail.tag != "transitionitem":
            tail = None
        item, start_s, end_s = _item(element, head, tail, rate, document)
        if start_s > cursor + 1e-9:
            children.append(
                {
                    "OTIO_SCHEMA": "Gap.1",
                    "source_range": _range(0.0, round((start_s - cursor) * rate, 6), rate),
                }
            )
        children.append(item)
        cursor = end_s
        head = element if element.tag == "transitionitem" else head
    return {
        "OTIO_SCHEMA": "Track.1",
        "name": _name(track),
        "kind": kind,
        "enabled": _enabled(track),
        "children": children,
        "markers": [],
        "effects": [],
        "source_range": None,
        "metadata": _metadata(track, set(_ITEM_TAGS)),
    }


def _cut_point(transition: Element, rate: float) -> float:
    """The frame (at the parent's rate) where a transition cuts from one clip to the next."""
    alignment = (_text(transition, "alignment") or "").strip()
    start = int(_number(transition, "start"))
    end = int(_number(transition, "end"))
    if alignment in ("end", "end-black"):
        return end
    if alignment in ("start", "start-black"):
        return start
    return int((start + end) / 2)


def _item(
    element: Element,
    head: Element | None,
    tail: Element | None,
    parent_rate: float,
    document: _Document,
) -> tuple[dict[str, Any], float, float]:
    """An item's OTIO JSON and its record range in seconds."""
    children = _children(element)
    start_value = int(_number(element, "start", children))
    end_value = int(_number(element, "end", children))
    start_offset_s = 0.0
    if start_value == -1:
        if head is None:
            raise MalformedTimeline(f"{element_label(element)}: start -1 without a transition")
        cut = _cut_point(head, parent_rate)
        start_s = cut / parent_rate
        start_offset_s = (cut - int(_number(head, "start"))) / parent_rate
    else:
        start_s = start_value / parent_rate
    if end_value == -1:
        if tail is None:
            raise MalformedTimeline(f"{element_label(element)}: end -1 without a transition")
        end_s = _cut_point(tail, parent_rate) / parent_rate
    else:
        end_s = end_value / parent_rate
    if element.tag == "transitionitem":
        cut = _cut_point(element, parent_rate)
        return (
            {
                "OTIO_SCHEMA": "Transition.1",
                "name": _name(element.find("effect")),
                "transition_type": "SMPTE_Dissolve",
                "in_offset": _time(cut - start_value, parent_rate),
                "out_offset": _time(end_value - cut, parent_rate),
                "metadata": _metadata(element, _ITEM_IGNORED),
            },
            start_s,
            end_s,
        )
    item = _clip(element, children, start_offset_s, end_s - start_s, parent_rate, document)
    return item, start_s, end_s


def _clip(
    element: Element,
    children: dict[str, Element],
    start_offset_s: float,
    duration_s: float,
    parent_rate: float,
    document: _Document,
) -> dict[str, Any]:
    rate = _rate(element, parent_rate, children)
    assert rate is not None
    file_element = document.deref(children.get("file"))
    nested = document.deref(children.get("sequence"))
    generator = None
    if element.tag == "generatoritem":
        for effect in element.iterfind("effect"):
            if (_text(effect, "effecttype") or "") == "generator":
                generator = effect
                break
    media_start_s = 0.0
    if nested is not None:
        media = nested.find("media")
        item: dict[str, Any] = {
            "OTIO_SCHEMA": "Stack.1",
            "name": _child_text(children, "name") or "",
            "children": _tracks(media, _rate(nested, rate), document) if media is not None else [],
        }
    elif file_element is not None or generator is not None:
        if file_element is not None:
            key = (file_element.get("id") or "", rate)
            cached = document.references.get(key) if key[0] else None
            if cached is None:
                cached = _file_reference(file_element, rate)
                if key[0]:
                    document.references[key] = cached
            reference, media_start_s = cached
        else:
            reference = {
                "OTIO_SCHEMA": "GeneratorReference.1",
                "name": _name(generator),
                "generator_kind": _text(generator, "effectid") or "",
                "parameters": {},
                "available_range": None,
                "metadata": _metadata(generator, {"name", "effectid"}),
            }
        item = {
            "OTIO_SCHEMA": "Clip.2",
            "name": _child_text(children, "name") or "",
            "media_references": {"DEFAULT_MEDIA": reference},
            "active_media_reference_key": "DEFAULT_MEDIA",
        }
    elif children.get("multiclip") is not None:
        # A multicam clip: which angle is shown is not read (see Known limits); it is kept
        # as a clip without media, so it is reported and skipped, and the native result keeps
        # the multiclip exactly as it was.
        multiclip = children["multiclip"]
        item = {
            "OTIO_SCHEMA": "Clip.2",
            "name": _child_text(children, "name") or "",
            "media_references": {
                "DEFAULT_MEDIA": {
                    "OTIO_SCHEMA": "MissingReference.1",
                    "name": _name(multiclip),
                    "available_range": None,
                    "metadata": {META: {"multiclip": multiclip.get("id", "")}},
                }
            },
            "active_media_reference_key": "DEFAULT_MEDIA",
        }
    else:
        raise MalformedTimeline(
            f"{element_label(element)} holds neither a <file>, a <sequence>, a <multiclip> "
            "nor a generator"
        )
    in_s = _number(element, "in", children) / rate
    source_start = (in_s + media_start_s + start_offset_s) * rate
    duration = duration_s * rate
    effects = []
    time_effect = None
    for filter_element in element.iterfind("filter") if "filter" in children else ():
        effect = filter_element.find("effect")
        if effect is None:
            raise MalformedTimeline(f"{element_label(filter_element)} holds no <effect>")
        if (_text(effect, "effectid") or "") == "timeremap":
            time_effect = effect
            continue
        effects.append(
            {
                "OTIO_SCHEMA": "Effect.1",
                "name": _name(effect),
                "effect_name": "",
                "metadata": {META: _to_dict(effect, {"name"})},
            }
        )
    if time_effect is not None:
        warp, source_start = _time_warp(time_effect, element, source_start, rate)
        if warp is not None:
            effects.append(warp)
    item.update(
        {
            "source_range": _range(round(source_start, 9), round(duration, 9), rate),
            "enabled": _enabled(element, children),
            "effects": effects,
            "markers": _markers(element, rate) if "marker" in children else [],
            "metadata": _metadata(element, _ITEM_IGNORED),
        }
    )
    return item


def _file_reference(file_element: Element, inherited: float) -> tuple[dict[str, Any], float]:
    """The media reference of a <file> and its start (seconds, from its timecode)."""
    children = _children(file_element)
    rate = _rate(file_element, inherited, children)
    assert rate is not None
    timecode = children.get("timecode")
    start = 0.0
    start_s = 0.0
    if timecode is not None:
        frame, tc_rate = _timecode_time(timecode, rate)
        start_s = frame / tc_rate
        start = start_s * rate
    duration_text = _child_text(children, "duration")
    available = None
    if duration_text is not None:
        available = _range(start, float(duration_text), rate)
    elif timecode is not None:
        available = _range(start, 0.0, rate)
    metadata = _metadata(file_element, {"duration", "name", "pathurl", "mediaSource"})
    path = _child_text(children, "pathurl")
    source = _child_text(children, "mediaSource")
    name = _child_text(children, "name") or ""
    if path is not None:
        reference: dict[str, Any] = {
            "OTIO_SCHEMA": "ExternalReference.1",
            "name": name,
            "target_url": path,
            "available_range": available,
            "metadata": metadata,
        }
    elif source is not None:
        reference = {
            "OTIO_SCHEMA": "GeneratorReference.1",
            "name": name,
            "generator_kind": source,
            "parameters": {},
            "available_range": available,
            "metadata": metadata,
        }
    else:
        reference = {
            "OTIO_SCHEMA": "MissingReference.1",
            "name": name,
            "available_range": available,
            "metadata": metadata,
        }
    return reference, start_s


def _time_warp(
    effect: Element, clip: Element, source_start: float, rate: float
) -> tuple[dict[str, Any] | None, float]:
    """The time effect of a `timeremap` filter and the clip's first media frame."""
    parameters = {
        (_text(parameter, "parameterid") or ""): parameter
        for parameter in effect.iterfind("parameter")
    }
    metadata = {META: _to_dict(effect, {"name"})}
    variable = parameters.get("variablespeed")
    if variable is not None and (_text(variable, "value") or "").strip() == "1":
        return None, source_start  # a speed curve: taken at speed 1 (see Known limits)
    speed = parameters.get("speed")
    try:
        percent = float(_text(speed, "value") or 100) if speed is not None else 100.0
    except ValueError as error:
        raise MalformedTimeline(f"{element_label(speed)}: speed is not a number") from error
    scalar = percent / 100.0
    reverse = parameters.get("reverse")
    if reverse is not None and (_text(reverse, "value") or "").strip().upper() == "TRUE":
        scalar = -scalar
    if scalar == 0:
        return (
            {
                "OTIO_SCHEMA": "FreezeFrame.1",
                "name": _name(effect),
                "effect_name": "FreezeFrame",
                "time_scalar": 0.0,
                "metadata": metadata,
            },
            source_start,
        )
    if scalar == 1.0:
        return None, source_start
    record = _number(clip, "end") - _number(clip, "start")
    marked = _number(clip, "out") - _number(clip, "in")
    if record > 0 and marked == record:
        # In and out count frames of the retimed clip: media starts at in * |speed|.
        in_frames = _number(clip, "in")
        source_start += in_frames * (abs(scalar) - 1)
    return (
        {
            "OTIO_SCHEMA": "LinearTimeWarp.1",
            "name": _name(effect),
            "effect_name": "LinearTimeWarp",
            "time_scalar": scalar,
            "metadata": metadata,
        },
        source_start,
    )
