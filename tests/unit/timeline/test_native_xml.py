"""How native results are assembled fast without changing a byte: elements inserted in runs,
rendered as text and spliced into the serialized document, the tree parsed at reading handed
to the result once, FCPXML times counted in integers.

Each fast path is checked against the slow one it replaces (one insert at a time, parsed
elements, a fresh parse, Fractions) on small real documents, including the cases where the
fast path must step aside (another encoding, a stand-in's text already in the document).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from lxml import etree

from timeline import fcpxml_native
from timeline.errors import ResultError
from timeline.formats import read_timeline
from timeline.native import check_fidelity, result_document
from timeline.native_xml import (
    StandIn,
    child_indentation,
    insert_child,
    insert_children,
    insert_text,
    parse_document,
    serialize_document,
    xml_attribute,
    xml_text,
)
from timeline.records import ClipStatus, GeneratedAudio, MediaMap, SpottedClip
from timeline.spotting import spot_clips

NATIVE = Path(__file__).resolve().parents[2] / "data" / "timelines" / "native"

LAYOUTS = {
    "spaces": b"<r>\n    <a>\n        <b/>\n        <c/>\n    </a>\n</r>",
    "tabs": b"<r>\n\t<a>\n\t\t<b/>\n\t\t<!-- note -->\n\t</a>\n</r>",
    "empty element": b"<r>\n  <x/>\n  <a/>\n</r>",
    "compact": b"<r><a><b/><c/></a></r>",
    "text inside": b"<r>\n  <a>words<b/></a>\n</r>",
}


def _new_elements() -> list[etree._Element]:
    return [
        etree.fromstring(b'<n i="1"/>'),
        etree.fromstring(b'<n i="2"><m><k/></m></n>'),
        etree.fromstring(b'<n i="3"/>'),
    ]


@pytest.mark.parametrize("layout", LAYOUTS, ids=str)
@pytest.mark.parametrize("position", [0, 1, 99])
def test_a_run_of_inserts_lays_out_like_one_insert_at_a_time(layout: str, position: int) -> None:
    one_by_one = etree.fromstring(LAYOUTS[layout])
    target = one_by_one.find("a")
    for offset, element in enumerate(_new_elements()):
        at = position + offset if position < len(target) else len(target)
        insert_child(target, at, element)
    in_a_run = etree.fromstring(LAYOUTS[layout])
    insert_children(in_a_run.find("a"), position, _new_elements())
    assert etree.tostring(in_a_run) == etree.tostring(one_by_one)


def test_a_run_appended_to_an_indented_element_is_indented_like_its_siblings() -> None:
    root = etree.fromstring(LAYOUTS["spaces"])
    insert_children(root.find("a"), 99, _new_elements())
    assert etree.tostring(root) == (
        b'<r>\n    <a>\n        <b/>\n        <c/>\n        <n i="1"/>\n        <n i="2">\n'
        b"            <m>\n                <k/>\n            </m>\n        </n>\n"
        b'        <n i="3"/>\n    </a>\n</r>'
    )


def _rendered(parent: etree._Element, name: str) -> str:
    """Two elements as text, laid out as new children of `parent` (see insert_text)."""
    layout = child_indentation(parent)
    inner, outer, between = (
        (layout.line(1), layout.line(0), "\n" + layout.indent) if layout else ("", "", "")
    )
    first = f"<clip name={xml_attribute(name)}>{inner}<note>{xml_text(name)}</note>{outer}</clip>"
    return first + between + f"<clip name={xml_attribute(name + ' 2')}/>"


DOCUMENTS = {
    "utf-8": b'<?xml version="1.0" encoding="UTF-8"?>\n<r>\n  <a>\n    <b/>\n  </a>\n</r>\n',
    "latin-1": b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<r>\n  <a>\n    <b/>\n  </a>\n</r>\n',
    "compact": b"<r><a><b/></a></r>",
    "marker in a comment": b"<r>\n  <!-- <foley-stand-in-1/> -->\n  <a>\n    <b/>\n  </a>\n</r>",
}
NAMES = ["plain", 'a & b < c > "d"', "tab\tand\nline", "ünï ✓ 😀", "crlf\r\nend", "]]>"]


@pytest.mark.parametrize("document", DOCUMENTS, ids=str)
@pytest.mark.parametrize("name", NAMES)
def test_text_spliced_in_serializes_as_the_parsed_elements_would(document: str, name: str) -> None:
    original = DOCUMENTS[document]
    spliced = parse_document(original, file="doc.xml")
    parent = spliced.getroot().find("a")
    text = _rendered(parent, name)
    stand_in = insert_text(parent, 1, text)
    assert isinstance(stand_in, StandIn)
    parsed = parse_document(original, file="doc.xml")
    # The slow path: the same text parsed into elements, inserted as elements.
    elements = list(etree.fromstring(f"<w>{text}</w>".encode()))
    insert_children(parsed.getroot().find("a"), 1, elements)
    expected = serialize_document(parsed, original)
    assert serialize_document(spliced, original, [stand_in]) == expected
    # Spliced as text where that is exact; parsed into the tree where it may not be.
    spliced_as_text = stand_in.element.getparent() is not None
    assert spliced_as_text == (document in ("utf-8", "compact"))
    # And the text says what was meant: attributes exactly, content with XML's line ends.
    clip = etree.fromstring(expected).find("a/clip")
    assert clip.get("name") == name
    assert clip.findtext("note") == name.replace("\r\n", "\n")


def test_text_xml_cannot_hold_is_a_result_error_naming_the_problem() -> None:
    root = etree.fromstring(LAYOUTS["spaces"])
    with pytest.raises(ResultError, match="cannot be written in XML"):
        insert_text(root.find("a"), 0, "<clip>bell \x07</clip>")


@pytest.fixture(scope="module")
def media_map(tmp_path_factory: pytest.TempPathFactory) -> MediaMap:
    root = tmp_path_factory.mktemp("media")
    for name in ("shot_a.mov", "shot_b.mov", "score.wav", "cam_a.mov", "cam_b.mov", "pal.mov"):
        (root / name).write_bytes(b"placeholder")
    return MediaMap(search_roots=(root,))


@pytest.mark.parametrize("name", ["fcp7_features.xml", "fcpxml_features.fcpxml"])
def test_the_tree_read_is_used_once_and_later_results_parse_the_same_bytes(
    name: str, media_map: MediaMap
) -> None:
    loaded = read_timeline(NATIVE / name)
    spotted = spot_clips(loaded.timeline, media_map)
    audio = [
        GeneratedAudio(clip.clip_id, Path(f"/srv/foley/{index}.wav"), {"prompt": "steps"})
        for index, clip in enumerate(spotted)
        if clip.status == ClipStatus.SPOTTED
    ]
    assert loaded.document is not None
    first = result_document(loaded, spotted, audio).data
    assert loaded.document.take() is None  # the first result took it
    again = result_document(loaded, spotted, audio).data
    assert first == again
    assert check_fidelity(loaded.original, first, loaded.format).ok


def test_an_fcp7_document_in_another_encoding_gets_the_same_foley(media_map: MediaMap) -> None:
    """ISO-8859-1 output may write characters as references: the elements are parsed then."""
    utf8 = (NATIVE / "fcp7_features.xml").read_bytes()
    assert utf8.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    latin = utf8.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"', 1)
    results = []
    for data in (utf8, latin):
        loaded = read_timeline(data, source_name="features.xml")
        spotted = spot_clips(loaded.timeline, media_map)
        audio = [
            GeneratedAudio(clip.clip_id, Path(f"/srv/foley/pas de deux {index}.wav"), {})
            for index, clip in enumerate(spotted)
            if clip.status == ClipStatus.SPOTTED
        ]
        data_out = result_document(loaded, spotted, audio).data
        assert check_fidelity(data, data_out, "fcp_xml").ok
        foley = etree.fromstring(data_out).find(".//track[@MZ.TrackName='Foley V1']")
        results.append(etree.tostring(foley, method="c14n"))
    assert results[0] == results[1]


def _spotted(index: int, start: int, duration: int) -> SpottedClip:
    return SpottedClip(
        clip_id=f"clip-{index}",
        track_index=1,
        track_name="",
        name=f"shot {index}",
        status=ClipStatus.SPOTTED,
        reason="",
        rate=Fraction(24000, 1001),
        record_start_frame=start,
        record_duration_frames=duration,
        record_timecode="",
        timeline_start_frame=0,
        media_url=None,
        media_path=None,
        media_start_s=0.0,
        media_duration_s=0.0,
        time_scalar=1.0,
        visible_start_frame=start,
        visible_duration_frames=duration,
        prompt="",
    )


ONE_GAP = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE fcpxml>

<fcpxml version="1.9">
    <resources>
        <format id="r1" frameDuration="1001/24000s"/>
    </resources>
    <project name="long gap">
        <sequence format="r1" tcStart="3600s">
            <spine>
                <gap name="Gap" offset="3600s" start="3600s" duration="{duration}"/>
            </spine>
        </sequence>
    </project>
</fcpxml>
"""


def test_thousands_of_foley_clips_connect_to_one_storyline_element_in_order() -> None:
    """One clip per audio file, all under one long gap: inserted in one pass, not one walk of
    the gap's children per clip (which took 14 s for 10,000 clips)."""
    count = 3000
    frame = Fraction(1001, 24000)
    original = ONE_GAP.format(duration=fcpxml_native.format_time(frame * 3 * count)).encode()
    spotted = [_spotted(index, 3 * index, 2) for index in range(count)]
    audio = [
        GeneratedAudio(clip.clip_id, Path(f"/srv/foley/{clip.clip_id}.wav"), {}) for clip in spotted
    ]
    from timeline.native import patch_native

    data = patch_native(original, "fcpxml", "long gap", spotted, audio, handles_frames=0, file="f")
    root = etree.fromstring(data)
    connected = root.findall(".//spine/gap/asset-clip")
    assert len(connected) == count
    # Offsets count in the gap's local time (its start, 3600 s, at record 0).
    expected = [fcpxml_native.format_time(3600 + frame * 3 * i) for i in range(count)]
    assert [clip.get("offset") for clip in connected] == expected
    assets = root.findall("./resources/asset")
    assert [asset.get("id") for asset in assets] == [f"foley-r-{i}" for i in range(1, count + 1)]
    assert assets[7].find("media-rep").get("src") == "file:///srv/foley/clip-7.wav"
    assert [clip.get("ref") for clip in connected[:3]] == ["foley-r-1", "foley-r-2", "foley-r-3"]
    assert check_fidelity(original, data, "fcpxml").ok


def test_fcpxml_clock_counts_in_integers_and_falls_back_to_fractions() -> None:
    times = [Fraction(1001, 24000), Fraction(3600), Fraction(1001, 30000), Fraction(7, 3)]
    clock = fcpxml_native._Clock(times)
    assert isinstance(clock.unit, int)
    total = clock.of(times[0]) * 48 + clock.of(times[1]) - clock.of(times[3])
    assert isinstance(total, int)
    assert clock.text(total) == fcpxml_native.format_time(times[0] * 48 + times[1] - times[3])
    # Denominators with no small common multiple (a hostile file) stay exact Fractions.
    primes = [Fraction(1, p) for p in (2**61 - 1, 2**89 - 1, 2**107 - 1)]
    fallback = fcpxml_native._Clock(primes)
    assert fallback.unit is None
    assert fallback.of(primes[0]) is primes[0]
    assert fallback.text(primes[0] + primes[1]) == fcpxml_native.format_time(primes[0] + primes[1])


def test_fcpxml_frame_counts_round_half_to_even_as_fractions_do() -> None:
    frame = Fraction(1001, 24000)
    halves = [frame * Fraction(2 * n + 1, 2) for n in range(6)]  # 0.5, 1.5, ... frames
    others = [Fraction(n, 7) for n in range(-20, 40)] + [Fraction(3600), Fraction(0)]
    for time in halves + others:
        assert fcpxml_native._frames(time, frame) == round(time / frame), time
    assert [fcpxml_native._frames(time, frame) for time in halves] == [0, 2, 2, 4, 4, 6]
