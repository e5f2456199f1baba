"""FCP 7 XML (Premiere Pro, Resolve, Avid and Hiero exports): the Foley into the editor's own
document. (Reading is `fcp7_reader`.)

`patch_document` adds one `<track>` per Foley lane after the sequence's existing audio tracks,
each with its clip items and their `<file>` elements, new ids that collide with none of the
document's, and the track name Premiere shows (`MZ.TrackName`). Nothing else is touched.
"""

from __future__ import annotations

import os

from lxml import etree

from timeline.errors import MalformedTimeline, ResultError
from timeline.fcp7_reader import definitions
from timeline.native_xml import (
    IdMaker,
    Indentation,
    StandIn,
    child_indentation,
    element_label,
    insert_child,
    insert_text,
    used_ids,
    xml_attribute,
    xml_text,
)
from timeline.result import FoleyLane, audio_url, comment_details, foley_comments
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
    """MalformedTimeline when two different clip items, sequences or files share an id (see
    `fcp7_reader.definitions`, which reading checks on the way)."""
    definitions(root, file=file)


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
    ids_checked: bool = False,
) -> list[StandIn]:
    """Add the Foley lanes to the sequence named `timeline_name` in place.

    The tracks go in as stand-ins: pass what this returns to `serialize_document`.
    `ids_checked`: `check_unique_ids` passed on this tree already (when it was read). Raises
    ResultError when the sequence cannot be found or has no `<media>` to add audio to.
    """
    if not ids_checked:
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
    stand_ins = []
    for lane in lanes:
        text = _foley_track(lane, rate, handles_frames, ids, child_indentation(audio))
        stand_in = insert_text(audio, index, text)
        if stand_in is not None:
            stand_ins.append(stand_in)
        index += 1
    return stand_ins


def _foley_track(
    lane: FoleyLane, rate: Element, handles: int, ids: IdMaker, layout: Indentation | None
) -> str:
    """The track as XML text, laid out as `etree.indent` lays it out at `layout` (compact
    when the document is not indented): written as text, not built element by element
    through lxml's API (five times the cost for ten thousand clip items)."""
    lines = [layout.line(depth) if layout is not None else "" for depth in range(7)]
    n0, n1, n2, n3, n4, n5, n6 = lines
    clip_rate = _rate_xml(rate, layout, 2)
    file_rate = _rate_xml(rate, layout, 3)
    parts = [f"<track {TRACK_NAME_ATTRIBUTE}={xml_attribute(lane.name)}>"]
    for clip, generated in lane.clips:
        duration = clip.record_duration_frames
        total = duration + 2 * handles
        start = clip.record_start_frame
        path = os.fspath(generated.audio_path)
        details = comment_details(generated.metadata.get(NAMESPACE, generated.metadata))
        comments = "".join(
            [f"{n3}{_leaf(key, value)}" for key, value in foley_comments(details).items()]
        )
        parts.append(
            f'{n1}<clipitem id="{ids.new("clipitem")}">{n2}{_leaf("name", "Foley " + clip.name)}'
            f"{n2}<enabled>TRUE</enabled>{n2}<duration>{total}</duration>{n2}{clip_rate}"
            f"{n2}<start>{start}</start>{n2}<end>{start + duration}</end>"
            f"{n2}<in>{handles}</in>{n2}<out>{handles + duration}</out>"
            f'{n2}<file id="{ids.new("file")}">{n3}{_leaf("name", os.path.basename(path))}'
            f"{n3}{_leaf('pathurl', audio_url(generated.audio_path, 'fcp_xml'))}"
            f"{n3}{file_rate}{n3}<duration>{total}</duration>{n3}<media>{n4}<audio>"
            f"{n5}<samplecharacteristics>{n6}<samplerate>48000</samplerate>"
            f"{n5}</samplecharacteristics>{n4}</audio>{n3}</media>{n2}</file>"
            f"{n2}<sourcetrack>{n3}<mediatype>audio</mediatype>{n3}<trackindex>1</trackindex>"
            f"{n2}</sourcetrack>"
            + (f"{n2}<comments>{comments}{n2}</comments>" if comments else "")
            + f"{n1}</clipitem>"
        )
    parts.append(f"{n1}<enabled>TRUE</enabled>{n1}<locked>FALSE</locked>{n0}</track>")
    return "".join(parts)


def _leaf(tag: str, value: str) -> str:
    # lxml writes an element without content as <tag/>.
    return f"<{tag}>{xml_text(value)}</{tag}>" if value else f"<{tag}/>"


def _rate_xml(rate: Element, layout: Indentation | None, depth: int) -> str:
    """The sequence's <rate> as text, its own whitespace dropped, laid out for an element
    `depth` levels below the track."""
    copy = etree.fromstring(etree.tostring(rate, with_tail=False))
    for node in copy.iter():
        node.tail = None
        if node.text is not None and not node.text.strip():
            node.text = None
    if layout is not None and len(copy):
        etree.indent(copy, space=layout.unit, level=layout.level + depth)
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
