"""`foley-server spot TIMELINE`: list the picture clips of a timeline that get Foley.

Reads any supported timeline, relinks its media, and prints one row per picture clip, spotted
or skipped with its reason: a table by default, a JSON array with --json. Exit status 0 when
the timeline was read, 2 when it could not be (the message says why).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from timeline.errors import TimelineError
from timeline.formats import read_timeline, readable_formats
from timeline.records import ClipStatus, SpottedClip
from timeline.relink import media_map_from
from timeline.rows import spot_rows_json
from timeline.spotting import spot_clips


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("timeline", help="timeline file (.otio, .otioz, .otiod, .xml, ...)")
    parser.add_argument(
        "--format",
        help=f"the timeline's format: {', '.join(readable_formats())} "
        "(default: detected from the content)",
    )
    parser.add_argument(
        "--timeline-name",
        help="which timeline of a file holding several (default: the first)",
    )
    parser.add_argument(
        "--media-root",
        action="append",
        default=[],
        metavar="DIR",
        help="folder searched for media by file name (repeatable)",
    )
    parser.add_argument(
        "--media-map",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="replace the path prefix OLD by NEW to find media (repeatable, tried in order)",
    )
    parser.add_argument(
        "--edl-rate",
        type=float,
        metavar="FPS",
        help="frame rate of an EDL (default: inferred from its timecodes)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON array, one per clip")


def run(args: argparse.Namespace) -> int:
    try:
        media_map = media_map_from(args.media_map, args.media_root)
        loaded = read_timeline(args.timeline, format=args.format, timeline_name=args.timeline_name)
        clips = spot_clips(
            loaded.timeline,
            media_map,
            media_start_timecode=_file_start_timecode,
            source_name=loaded.source_name,
        )
    except TimelineError as error:
        print(f"foley-server spot: {error}", file=sys.stderr)
        return 2
    for note in loaded.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print(spot_rows_json(clips))
    else:
        _print_table(loaded.timeline.name, loaded.format, clips)
    return 0


def _file_start_timecode(path: Path) -> float | None:
    """The media file's own start timecode (seconds since midnight), as the server reads it."""
    # Imported here: PyAV is only needed when the timeline gives no media start of its own.
    from plugin_server.media.probe import probe

    return probe(path).start_timecode_s


def _print_table(name: str, format: str, clips: list[SpottedClip]) -> None:
    spotted = sum(1 for clip in clips if clip.status == ClipStatus.SPOTTED)
    print(f"{name} ({format}): {spotted} of {len(clips)} picture clips spotted")
    for clip in clips:
        status = clip.status.value if clip.status == ClipStatus.SKIPPED else "ok"
        line = (
            f"V{clip.track_index:<3} {clip.record_timecode}  {clip.record_duration_frames:>6}f  "
            f"x{clip.time_scalar:<6.3g} {status:<7} {clip.name}"
        )
        if clip.prompt:
            line += f"  prompt: {clip.prompt!r}"
        if clip.reason:
            line += f"  ({clip.reason})"
        print(line)
