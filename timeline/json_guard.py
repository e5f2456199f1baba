"""Checks on OTIO JSON text before OpenTimelineIO's C++ reader sees it.

OpenTimelineIO 0.18 crashes the whole process (a segmentation fault, not an exception) on some
damaged files: an object with a key twice (two "children" lists parent the same items twice),
or an object that says it is an old Clip schema ("Clip.1", or a version such as "1e-9" that its
reader takes for 1) while holding the new `media_references` field. A server must never die of
an upload, so the text is first read by Python's own JSON parser, which builds nothing (every
object is checked and dropped: faster than a plain `json.loads`) and refuses those shapes.
"""

from __future__ import annotations

import json
import re
from typing import Any

from timeline.errors import MalformedTimeline

_PLAIN_SCHEMA = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.[1-9][0-9]{0,2}")
CURRENT_CLIP_SCHEMA = "Clip.2"


class _Refused(ValueError):
    """A shape OpenTimelineIO cannot read safely; the message says which."""


def check_otio_json(text: str, *, file: str) -> None:
    """Raise MalformedTimeline for text that is not JSON or that OpenTimelineIO cannot read
    safely (duplicate keys, malformed schema names, old clips holding new fields)."""
    try:
        json.loads(text, object_pairs_hook=_check_object)
    except _Refused as error:
        raise MalformedTimeline(str(error), file=file) from None
    except json.JSONDecodeError as error:
        raise MalformedTimeline(f"not valid OTIO JSON: {error}", file=file) from None
    except RecursionError:
        raise MalformedTimeline("JSON nested too deeply to be a timeline", file=file) from None


def _check_object(pairs: list[tuple[str, Any]]) -> None:
    keys = {key for key, _ in pairs}
    if len(keys) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise _Refused(f"an object has the key {twice!r} twice; the file is damaged")
    if "OTIO_SCHEMA" not in keys:
        return
    schema = next(value for key, value in pairs if key == "OTIO_SCHEMA")
    if not isinstance(schema, str) or not _PLAIN_SCHEMA.fullmatch(schema):
        raise _Refused(f"OTIO_SCHEMA {schema!r} is not a schema name and version (like 'Clip.2')")
    if schema.startswith("Clip.") and schema != CURRENT_CLIP_SCHEMA and "media_references" in keys:
        raise _Refused(
            f"an old clip schema ({schema}) holds the new 'media_references' field; the file "
            "was edited by hand or damaged: re-export it"
        )
