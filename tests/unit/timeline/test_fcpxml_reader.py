"""The native FCPXML reader builds exactly the model OTIO's FCPXML adapter builds, in linear time.

Both read every FCPXML sample and generated documents (lanes, connected storylines, compound
clips, markers, audio-only assets, 23.976 and 25 fps formats, metadata); their OTIO JSON must
be identical, so everything built on the model (document facts, spotting) is unchanged.
"""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from timeline.errors import MalformedTimeline
from timeline.fcpxml_reader import read_fcpxml
from timeline.formats import read_timeline
from timeline.native_xml import parse_document
from timeline.records import MediaMap
from timeline.spotting import spot_clips

DATA = Path(__file__).resolve().parents[2] / "data" / "timelines"
SAMPLES = sorted([*DATA.glob("*.fcpxml"), *(DATA / "native").glob("*.fcpxml")])


def _adapter(data: bytes) -> str:
    parsed = otio.adapters.read_from_string(data.decode("utf-8"), adapter_name="fcpx_xml")
    return otio.adapters.write_to_string(parsed, indent=-1)


def _native(data: bytes) -> str:
    root = parse_document(data, file="test.fcpxml").getroot()
    return otio.adapters.write_to_string(read_fcpxml(root, file="test.fcpxml"), indent=-1)


def _document(clips: int, *, frame: str = "1001/24000s") -> bytes:
    """A project with a primary storyline of asset-clips and gaps, connected clips on lanes
    above and below (audio-only music on lane -1), a connected storyline (spine lane 2), a
    compound clip (ref-clip) with its own clips, markers and an event asset-clip's metadata."""
    assets = "\n".join(
        f'<asset id="a{index}" name="shot {index}" src="file:///media/shot_{index}.mov" '
        f'start="0s" duration="3600s" hasVideo="1" hasAudio="1" format="r1">'
        f'<metadata><md key="k{index}" value="v"/></metadata></asset>'
        for index in range(4)
    )
    music = (
        '<asset id="m1" name="score" src="file:///media/score.wav" start="0s" '
        'duration="3600s" hasAudio="1"><metadata/></asset>'
    )
    compound = (
        '<media id="c1" name="compound one"><sequence format="r1" duration="96096/24000s">'
        '<spine><asset-clip ref="a1" name="inner a" offset="0s" start="1001/24000s" '
        'duration="48048/24000s" format="r1"/><asset-clip ref="a2" name="inner b" '
        'offset="48048/24000s" duration="48048/24000s" format="r1"/></spine></sequence></media>'
    )
    spine: list[str] = []
    # Record times start at the sequence's tcStart (86400 frames of 23.976: 3603.6 s).
    offset = 86400 * 1001
    for index in range(clips):
        duration = 1001 * (24 + index % 30)
        if index % 7 == 3:
            spine.append(f'<gap name="Gap" offset="{offset}/24000s" duration="{duration}/24000s"/>')
        elif index % 11 == 5:
            spine.append(
                f'<ref-clip ref="c1" name="compound {index}" offset="{offset}/24000s" '
                f'duration="{duration}/24000s"/>'
            )
        else:
            connected = ""
            if index % 5 == 0:
                connected += (
                    f'<asset-clip ref="a{(index + 1) % 4}" name="cutaway {index}" lane="1" '
                    f'offset="{offset + 2002}/24000s" duration="12012/24000s" format="r1"/>'
                )
            if index % 9 == 0:
                connected += (
                    f'<asset-clip ref="m1" name="music {index}" lane="-1" '
                    f'offset="{offset}/24000s" duration="{duration}/24000s"/>'
                )
            if index % 13 == 0:
                connected += (
                    f'<spine lane="2" offset="{offset}/24000s"><asset-clip ref="a3" '
                    f'name="story {index}" offset="{offset}/24000s" duration="24024/24000s" '
                    'format="r1"/></spine>'
                )
            marker = (
                f'<marker start="{offset}/24000s" duration="1001/24000s" value="m{index}" '
                f'completed="{index % 2}"/>'
                if index % 4 == 0
                else ""
            )
            spine.append(
                f'<asset-clip ref="a{index % 4}" name="shot {index}" offset="{offset}/24000s" '
                f'start="{offset}/24000s" duration="{duration}/24000s" format="r1" '
                f'tcFormat="NDF">{connected}{marker}</asset-clip>'
            )
        offset += duration
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<fcpxml version="1.8"><resources>'
        f'<format id="r1" frameDuration="{frame}" width="1920" height="1080"/>'
        f'{assets}{music}{compound}</resources><library><event name="e">'
        '<asset-clip ref="a0" name="shot 0" duration="3600s"><note>a note</note>'
        '<keyword start="0s" duration="1s" value="kw"/></asset-clip>'
        '<project name="generated"><sequence format="r1" tcStart="3603.6s" tcFormat="NDF">'
        f"<spine>{''.join(spine)}</spine></sequence></project></event></library></fcpxml>"
    ).encode()


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: path.name)
def test_samples_read_as_the_adapter_reads_them(path: Path) -> None:
    data = path.read_bytes()
    assert _native(data) == _adapter(data)


@pytest.mark.parametrize("frame", ["1001/24000s", "1/25s", "100/3000s"])
def test_generated_documents_read_as_the_adapter_reads_them(frame: str) -> None:
    data = _document(120, frame=frame)
    native = _native(data)
    assert native == _adapter(data)
    # The document exercises what it claims: lanes -1..2, a compound clip, markers.
    timeline = otio.adapters.read_from_string(native)[0]  # the event's one project
    tracks = {track.name: track.kind for track in timeline.tracks}
    assert tracks == {"-1": "Audio", "0": "Video", "1": "Video", "2": "Video"}
    assert any(isinstance(item, otio.schema.Stack) for item in timeline.tracks[1])
    assert any(clip.markers for clip in timeline.find_clips())


def test_the_reader_is_linear() -> None:
    """Ten times the clips take far less than a hundred times as long (the adapter: ~75x)."""
    small, large = _document(300), _document(3000)
    timings = []
    for data in (small, large):
        root = parse_document(data, file="t").getroot()
        # The best of three: one read on a loaded machine once took 36x (a pause, not the
        # reader: repeated, 3,000 clips read in 12x the time of 300).
        runs = []
        for _ in range(3):
            start = time.process_time()
            read_fcpxml(root, file="t")
            runs.append(time.process_time() - start)
        timings.append(min(runs))
    assert timings[1] < 25 * max(timings[0], 0.005)


def test_read_timeline_uses_the_document_facts_on_the_native_model(tmp_path: Path) -> None:
    path = tmp_path / "generated.fcpxml"
    path.write_bytes(_document(40))
    loaded = read_timeline(path)
    # tcStart 3603.6 s at 23.976: the exact rate and start, no leading gap.
    assert loaded.timeline.global_start_time == otio.opentime.RationalTime(86400, 24000 / 1001)
    primary = loaded.timeline.tracks[1]
    assert primary[0].name == "shot 0"
    assert primary[0].source_range.duration.value == 24
    # Renamed ref-clips (stacks named after their compound clip) are matched too, and the
    # compound's own clips are exact: 48048/24000 s is 48 frames, not the adapter's 46.
    compound = next(item for item in primary if isinstance(item, otio.schema.Stack))
    inner = [clip.source_range.duration.value for clip in compound.find_clips()]
    assert inner == [48, 48]


@pytest.mark.parametrize(
    "broken, detail",
    [
        (b'<fcpxml><project name="p"/></fcpxml>', "has no <sequence>"),
        (
            b'<fcpxml><resources><format id="r1" frameDuration="1/25s"/></resources>'
            b'<project name="p"><sequence format="r1"><spine><asset-clip ref="nope" name="x" '
            b'duration="1s"/></spine></sequence></project></fcpxml>',
            "no resource 'nope'",
        ),
        (
            b'<fcpxml><resources><format id="r1" frameDuration="25"/><asset id="a" src="a.mov"/>'
            b'</resources><project name="p"><sequence format="r1"><spine><asset-clip ref="a" '
            b'name="x" duration="1s"/></spine></sequence></project></fcpxml>',
            "frameDuration '25'",
        ),
        (
            b'<fcpxml><resources><format id="r1" frameDuration="1/25s"/><media id="c1" name="c">'
            b'<sequence format="r1"><spine><ref-clip ref="c1" name="self" duration="1s"/>'
            b'</spine></sequence></media></resources><project name="p"><sequence format="r1">'
            b'<spine><ref-clip ref="c1" name="c" duration="1s"/></spine></sequence></project>'
            b"</fcpxml>",
            "nest too deep",
        ),
    ],
)
def test_broken_documents_are_malformed_timelines(broken: bytes, detail: str) -> None:
    root = parse_document(broken, file="broken.fcpxml").getroot()
    with pytest.raises(MalformedTimeline) as raised:
        read_fcpxml(root, file="broken.fcpxml")
    assert detail in str(raised.value)
    assert "broken.fcpxml" in str(raised.value)


def test_media_ranges_are_exact_at_the_assets_own_rate() -> None:
    """A 23.976 asset used in a 29.97 project: the adapter counted its range at 23 fps, so two
    seconds of media read as 46 frames; the document's exact times give 48 at 23.976."""
    loaded = read_timeline(
        DATA / "native" / "fcpxml_features.fcpxml", timeline_name="second 2997 DF"
    )
    spotted = spot_clips(loaded.timeline, MediaMap())
    clip = next(clip for clip in spotted if clip.name == "df clip")
    assert clip.media_rate == Fraction(24000, 1001)
    assert (clip.record_duration_frames, clip.media_duration_frames) == (60, 48.0)
