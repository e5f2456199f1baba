"""Read an untrusted timeline within a memory and time budget.

Native binary formats are parsed by third-party code that trusts the file: a damaged AAF whose
directory claims a 2.4 GB stream makes pyaaf2 allocate 2.4 GB before it fails. Such formats are
therefore parsed in a child process whose address space is capped (RLIMIT_AS) and which is
killed after a timeout; it answers with the selected timeline as OTIO JSON, which this process
reads with the ordinary (linear, guarded) OTIO reader. An .otioz is checked by decompressing
its content.otio while counting the bytes actually produced, so an archive cannot declare a
small size and inflate to gigabytes. Everything else the readers or the spotter raise on a
hostile file becomes a typed TimelineError naming the file, never an internal error.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import opentimelineio as otio

from timeline import bundles, errors
from timeline.errors import MalformedTimeline, TimelineError
from timeline.formats import (
    SUFFIXES,
    LoadedTimeline,
    normalize_format,
    read_timeline,
    read_timeline_bytes,
)
from timeline.sniffing import sniff_format

log = logging.getLogger(__name__)

DEFAULT_MAX_PARSE_BYTES = 512 << 20
DEFAULT_PARSE_TIMEOUT_S = 60.0
# The formats whose parsers allocate from sizes written in the file (pyaaf2's compound-file
# reader); text formats are bounded by the message size and checked before parsing.
ISOLATED_FORMATS = ("aaf",)
_CHILD_MODULE = "plugin_server.pipeline.parse_child"
SCRATCH_PREFIX = "foley-parse-"


@dataclass(frozen=True)
class ParseLimits:
    """The budget of one timeline parse.

    `max_memory_bytes`: the address space of the child process that parses native formats
    (Python and the parser included: about 45 MB of it before the file is read).
    `timeout_s`: wall time for that child. `max_content_bytes`: the largest decompressed
    content.otio of an .otioz, counted as it is inflated.
    """

    max_memory_bytes: int = DEFAULT_MAX_PARSE_BYTES
    timeout_s: float = DEFAULT_PARSE_TIMEOUT_S
    max_content_bytes: int = bundles.MAX_CONTENT_BYTES

    def __post_init__(self) -> None:
        if self.max_memory_bytes < 64 << 20:
            raise ValueError(
                f"the parse memory budget must be at least 64 MB (the parser itself needs about "
                f"45 MB), got {self.max_memory_bytes >> 20} MB"
            )
        if not self.timeout_s > 0:
            raise ValueError(f"the parse timeout must be positive, got {self.timeout_s}")
        if self.max_content_bytes < 1:
            raise ValueError("the .otioz content limit must be positive")


def read_untrusted_timeline(
    source: bytes | Path,
    *,
    format: str | None,
    timeline_name: str | None,
    source_name: str | None,
    limits: ParseLimits | None,
) -> LoadedTimeline:
    """read_timeline for a document from a client: within `limits` (None: in-process, no
    budget, for files the user runs locally). Raises only TimelineError subclasses."""
    name = source_name or (str(source) if isinstance(source, Path) else "<timeline bytes>")
    try:
        if limits is not None and not (isinstance(source, Path) and source.is_dir()):
            # Read once, size-checked, and hand the bytes on: a path is not read again.
            data = source if isinstance(source, bytes) else read_timeline_bytes(source, name)
            chosen = _format_of(data, source, format, name)
            if chosen == "otioz":
                bundles.check_content_size(data, limits.max_content_bytes, file=name)
            if chosen in ISOLATED_FORMATS:
                return _read_in_child(data, chosen, timeline_name, name, limits)
            if chosen is not None:
                source, format = data, chosen
        return read_timeline(source, format=format, timeline_name=timeline_name, source_name=name)
    except TimelineError:
        raise
    # What the readers and post-processing raise on timelines they cannot represent: a rate
    # OTIO's timecode refuses (ValueError), nesting deeper than Python's stack, a name the
    # file system refuses (OSError: too long, a symlink loop).
    except (ValueError, OverflowError, RecursionError, OSError) as error:
        raise MalformedTimeline(
            f"the timeline cannot be worked on: {type(error).__name__}: {_short(error)}",
            file=name,
        ) from error


def _format_of(data: bytes, source: bytes | Path, format: str | None, name: str) -> str | None:
    """The format to parse as: the explicit one, else sniffed, else the file name's suffix."""
    if format:
        return normalize_format(format, file=name)
    sniffed = sniff_format(data)
    if sniffed is None and isinstance(source, Path):
        return SUFFIXES.get(source.suffix.lower())
    return sniffed


def _read_in_child(
    data: bytes, format: str, timeline_name: str | None, name: str, limits: ParseLimits
) -> LoadedTimeline:
    request = json.dumps(
        {
            "format": format,
            "timeline_name": timeline_name,
            "source_name": name,
            "max_memory_bytes": limits.max_memory_bytes,
            "timeout_s": limits.timeout_s,
        }
    )
    budget = f"{limits.max_memory_bytes >> 20} MB and {limits.timeout_s:g} s"
    try:
        # The AAF reader works on a temporary file; a child killed at its timeout cannot remove
        # it, so the child's temporary folder is one this process removes afterwards.
        with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX) as scratch:
            completed = subprocess.run(
                [sys.executable, "-m", _CHILD_MODULE, request],
                input=data,
                capture_output=True,
                timeout=limits.timeout_s,
                check=False,
                env={
                    **os.environ,
                    # The child must import this package the way this process does.
                    "PYTHONPATH": os.pathsep.join(filter(None, sys.path)),
                    "TMPDIR": scratch,
                },
            )
    except subprocess.TimeoutExpired:
        raise MalformedTimeline(
            f"parsing took longer than the server allows ({budget}); the file is damaged or "
            "far larger than a timeline",
            file=name,
        ) from None
    if completed.returncode != 0 or not completed.stdout:
        log.warning(
            "timeline parser child for %s ended with status %d: %s",
            name,
            completed.returncode,
            completed.stderr.decode("utf-8", "replace")[-500:],
        )
        raise MalformedTimeline(
            f"parsing needed more than the server allows ({budget}); the file is damaged",
            file=name,
        )
    answer = json.loads(completed.stdout)
    if "error" in answer:
        raise _error_from(answer["error"], budget, name)
    timeline = otio.adapters.read_from_string(answer["timeline"], adapter_name="otio_json")
    return LoadedTimeline(
        timeline=timeline,
        format=answer["format"],
        available_names=tuple(answer["available_names"]),
        source_name=answer["source_name"],
        notes=tuple(answer["notes"]),
        # The result of an AAF is the original file patched (timeline.native), as in-process.
        original=data,
    )


def _error_from(error: dict[str, str], budget: str, name: str) -> TimelineError:
    if error.get("memory"):
        return MalformedTimeline(
            f"parsing needed more memory than the server allows ({budget}); the file is damaged",
            file=name,
        )
    kind = getattr(errors, error.get("type", ""), None)
    usable = isinstance(kind, type) and issubclass(kind, TimelineError)
    if not usable or kind is errors.AmbiguousMedia:
        kind = MalformedTimeline
    return kind(error.get("detail", "unreadable"), file=error.get("file") or name)


def _short(error: BaseException, limit: int = 200) -> str:
    text = str(error).strip().replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "..."
