"""FCP 7 XML (Premiere Pro, Resolve, Avid and Hiero exports): the Foley into the editor's own
document. (Reading is `fcp7_reader`.)

`patch_document` adds one `<track>` per Foley lane after the sequence's existing audio tracks,
each with its clip items and their `<file>` elements, new ids that collide with none of the
document's, and the track name Premiere shows (`MZ.TrackName`). Nothing else is touched.
"""

from __future__ import annotations

import os
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from timeline.errors import MalformedTimeline, ResultError
from timeline.native_xml import IdMaker, element_label, insert_child, parse_fragment, used_ids
from timeline.result import FoleyLane, audio_url, foley_comments, plain_metadata
from timeline.timebase import NAMESPACE

Element = etree._Element

TRACK_NAME_ATTRIBUTE = "MZ.TrackName"
FOLEY_ID_PREFIX = "foley-"


# --- finding the sequence ------------------------------------------------------------------------


def top_level_sequences(root: Element) -> list[Element]:
    """The sequences OpenTimelineIO's reader offers as timelines, in its order, dereferenced."""
    if root.tag != "xmeml":
        raise MalformedTimeline(f"the root element is <{root.tag}>, not <xmeml>")
    definitions = _definitions(root, "sequence")
    found = [*root.iterfind("./sequence"), *root.iterfind(".//children/sequence")]
    return [definitions.get(element.get("id", ""), element) for element in found]


def _definitions(root: Element, tag: str) -> dict[str, Element]:
    """id -> the first element of `tag` with that id that has content (not a bare reference)."""
    definitions: dict[str, Element] = {}
    for element in root.iter(tag):
        identifier = element.get("id")
        if identifier and len(element) and identifier not in definitions:
            definitions[identifier] = element
    return definitions


def find_sequence(root: Element, timeline_name: str, *, file: str) -> Element:
    """The top-level sequence the timeline was read from (the first with its name)."""
    sequences = top_level_sequences(root)
    for sequence in sequences:
        if _child_text(sequence, "name") == timeline_name:
            return sequence
    if len(sequences) == 1 and not timeline_name:
        return sequences[0]
    raise ResultError(
        f"no top-level <sequence> named {timeline_name!r} to add the Foley to", file=file
    )


def check_unique_ids(root: Element, *, file: str) -> None:
    """Two different clip items (or sequences, or files) under one id make every reference
    ambiguous.

    Bare references (`<file id="file-1"/>`) repeating an id are how FCP 7 XML shares a
    definition, and some writers repeat a whole `<file>` definition; both are fine as long as
    the repeated file names the same media.
    """
    seen: dict[tuple[str, str], Element] = {}
    for element in root.iter("clipitem", "sequence", "file"):
        identifier = element.get("id")
        if not identifier or not len(element):
            continue
        first = seen.setdefault((element.tag, identifier), element)
        if first is element:
            continue
        if element.tag != "file" or _child_text(first, "pathurl") != _child_text(
            element, "pathurl"
        ):
            raise MalformedTimeline(
                f"duplicate id: {element_label(element)} and {element_label(first)} "
                "define different content under one id",
                file=file,
            )


def _child_text(element: Element | None, tag: str) -> str | None:
    if element is None:
        return None
    child = element.find(tag)
    if child is None or child.text is None:
        return None
    return child.text.strip()


# --- writing the Foley ---------------------------------------------------------------------------


def patch_document(
    root: Element,
    timeline_name: str,
    lanes: list[FoleyLane],
    *,
    handles_frames: int,
    file: str,
) -> None:
    """Add the Foley lanes to the sequence named `timeline_name` in place.

    Raises ResultError when the sequence cannot be found or has no `<media>` to add audio to.
    """
    check_unique_ids(root, file=file)
    sequence = find_sequence(root, timeline_name, file=file)
    media = sequence.find("media")
    if media is None:
        raise ResultError(f"{element_label(sequence)} has no <media> to add audio to", file=file)
    rate = sequence.find("rate")
    if rate is None or _child_text(rate, "timebase") is None:
        raise ResultError(f"{element_label(sequence)} has no <rate><timebase>", file=file)
    audio = media.find("audio")
    if audio is None:
        audio = etree.Element("audio")
        insert_child(media, len(media), audio)
    ids = IdMaker(used_ids(root))
    existing = list(audio.iterfind("track"))
    index = audio.index(existing[-1]) + 1 if existing else len(audio)
    for lane in lanes:
        track = _foley_track(lane, rate, handles_frames, ids)
        insert_child(audio, index, track)
        index += 1


def _foley_track(lane: FoleyLane, rate: Element, handles: int, ids: IdMaker) -> Element:
    """The track as XML text parsed once: building ten thousand clip items element by element
    through lxml's API costs five times as much."""
    rate_xml = _rate_xml(rate)
    parts = [f"<track {TRACK_NAME_ATTRIBUTE}={quoteattr(lane.name)}>"]
    for clip, generated in lane.clips:
        duration = clip.record_duration_frames
        total = duration + 2 * handles
        start = clip.record_start_frame
        path = os.fspath(generated.audio_path)
        details = {
            **plain_metadata(generated.metadata.get(NAMESPACE, generated.metadata)),
            "clip_id": clip.clip_id,
        }
        comments = "".join(
            f"<{key}>{escape(value)}</{key}>" for key, value in foley_comments(details).items()
        )
        parts.append(
            f'<clipitem id="{ids.new("clipitem")}"><name>{escape("Foley " + clip.name)}</name>'
            f"<enabled>TRUE</enabled><duration>{total}</duration>{rate_xml}"
            f"<start>{start}</start><end>{start + duration}</end>"
            f"<in>{handles}</in><out>{handles + duration}</out>"
            f'<file id="{ids.new("file")}"><name>{escape(os.path.basename(path))}</name>'
            f"<pathurl>{escape(audio_url(generated.audio_path, 'fcp_xml'))}</pathurl>"
            f"{rate_xml}<duration>{total}</duration><media><audio><samplecharacteristics>"
            "<samplerate>48000</samplerate></samplecharacteristics></audio></media></file>"
            "<sourcetrack><mediatype>audio</mediatype><trackindex>1</trackindex></sourcetrack>"
            + (f"<comments>{comments}</comments>" if comments else "")
            + "</clipitem>"
        )
    parts.append("<enabled>TRUE</enabled><locked>FALSE</locked></track>")
    return parse_fragment("".join(parts))


def _rate_xml(rate: Element) -> str:
    """The sequence's <rate> without its whitespace, as text."""
    copy = etree.fromstring(etree.tostring(rate, with_tail=False))
    for node in copy.iter():
        node.tail = None
        if node.text is not None and not node.text.strip():
            node.text = None
    return etree.tostring(copy, encoding="unicode")


def is_foley_element(element: Element) -> bool:
    """True for what `patch_document` adds: a track of Foley clip items (or an audio holding
    only such tracks)."""
    if not isinstance(element.tag, str):
        return False
    if element.tag == "audio":
        return all(is_foley_element(child) for child in element)
    if element.tag != "track":
        return False
    items = list(element.iterfind("clipitem"))
    return (
        bool(items)
        and all(item.get("id", "").startswith(FOLEY_ID_PREFIX) for item in items)
        and element.get(TRACK_NAME_ATTRIBUTE, "").startswith("Foley V")
    )
