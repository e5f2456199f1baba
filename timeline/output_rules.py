"""Where a result may be written and in which format, decided before any clip is generated.

Rules: the result's format is the input's (an EDL is answered in OTIO, an .otiod folder in
.otio) unless one is asked for; an output name whose extension says another format is refused
with the right name suggested; an output equal to the input, an existing folder, or a place
that cannot be written is refused. Only the standard library and the sniffer are used, so the
gRPC client can apply the same rules without loading OpenTimelineIO.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from timeline.errors import TimelineError, UnknownFormat, UnsupportedFormat
from timeline.sniffing import SNIFF_BYTES, sniff_format

READABLE = ("otio", "otioz", "otiod", "fcp_xml", "fcpxml", "aaf", "edl")
WRITABLE = ("otio", "otioz", "otiod", "fcp_xml", "fcpxml", "aaf")
SUFFIXES = {
    ".otio": "otio",
    ".otioz": "otioz",
    ".otiod": "otiod",
    ".xml": "fcp_xml",
    ".fcpxml": "fcpxml",
    ".fcpxmld": "fcpxml",
    ".aaf": "aaf",
    ".edl": "edl",
}
EXTENSIONS = {
    "otio": ".otio",
    "otioz": ".otioz",
    "otiod": ".otiod",
    "fcp_xml": ".xml",
    "fcpxml": ".fcpxml",
    "aaf": ".aaf",
    "edl": ".edl",
}
ALIASES = {
    "otio_json": "otio",
    "json": "otio",
    "xml": "fcp_xml",
    "fcp7": "fcp_xml",
    "fcp7xml": "fcp_xml",
    "xmeml": "fcp_xml",
    "fcpx": "fcpxml",
    "fcpx_xml": "fcpxml",
    "cmx_3600": "edl",
    "cmx3600": "edl",
}
EDL_RESULT_NOTE = (
    "an EDL cannot carry the added audio tracks, so the result is OpenTimelineIO (.otio)"
)
OTIOD_RESULT_NOTE = "an .otiod bundle is a folder and cannot be sent back, so the result is .otio"


class OutputRefused(TimelineError):
    """The output path or format cannot be used; nothing was generated."""


def normalize_format(name: str, *, file: str | None = None) -> str:
    """The canonical format name for `name` (accepts suffixes and adapter names)."""
    key = name.strip().lower()
    key = SUFFIXES.get(key if key.startswith(".") else f".{key}", key)
    key = ALIASES.get(key, key)
    if key not in READABLE:
        raise UnknownFormat(
            f"unknown timeline format {name!r}; known: {', '.join(READABLE)}", file=file
        )
    return key


@dataclass(frozen=True)
class OutputPlan:
    """The checked output: the format it will be written in and what to tell the user."""

    path: Path
    input_format: str | None
    result_format: str | None  # None when the input's format could not be told here
    notes: tuple[str, ...]


def sniff_path(path: Path) -> str | None:
    """The format of a timeline file or bundle folder, from its content (None when unclear)."""
    if path.is_dir():
        if (path / "content.otio").is_file():
            return "otiod"
        if (path / "Info.fcpxml").is_file():
            return "fcpxml"
        return None
    try:
        with open(path, "rb") as stream:
            head = stream.read(SNIFF_BYTES)
    except OSError:
        return None
    found = sniff_format(head)
    if found is None and path.suffix.lower() in SUFFIXES:
        return SUFFIXES[path.suffix.lower()]
    return found


def plan_output(
    output: Path,
    *,
    timeline: Path | None,
    requested_format: str | None = None,
    input_format: str | None = None,
    service_answers_otiod: bool = False,
) -> OutputPlan:
    """Check `output` for a job reading `timeline` (None: a timeline not on this machine).

    Raises OutputRefused (naming the output) when the result could not be written there or
    its extension contradicts the result's format; UnsupportedFormat for a read-only format.
    """
    output = Path(output)
    name = str(output)
    if timeline is not None and _same_file(timeline, output):
        raise OutputRefused(
            f"the output is the input timeline; the input is never overwritten. Write to "
            f"{output.with_name(output.stem + '_foley' + output.suffix)} instead",
            file=name,
        )
    if output.is_dir():
        raise OutputRefused("is an existing folder; name a file for the result", file=name)
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise OutputRefused(f"the folder {parent} does not exist", file=name)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputRefused(f"the folder {parent} is not writable", file=name)
    if output.exists() and not os.access(output, os.W_OK):
        raise OutputRefused("exists and cannot be replaced (not writable)", file=name)

    source = input_format
    if source is None and timeline is not None:
        source = sniff_path(timeline)
    source = normalize_format(source, file=name) if source else None
    notes: list[str] = []
    if requested_format:
        chosen: str | None = normalize_format(requested_format, file=name)
        if chosen not in WRITABLE:
            raise UnsupportedFormat(
                f"cannot write {chosen}: {EDL_RESULT_NOTE}; choose one of {', '.join(WRITABLE)}",
                file=name,
            )
    elif source == "edl":
        chosen = "otio"
        notes.append(EDL_RESULT_NOTE)
    else:
        chosen = source
    if chosen == "otiod" and not service_answers_otiod:
        if requested_format:
            raise UnsupportedFormat(f"{OTIOD_RESULT_NOTE}; ask for otio or otioz", file=name)
        chosen = "otio"
        notes.append(OTIOD_RESULT_NOTE)
    if chosen is not None:
        _check_extension(output, chosen, requested=bool(requested_format))
    return OutputPlan(output, source, chosen, tuple(notes))


def _check_extension(output: Path, chosen: str, *, requested: bool) -> None:
    suffix = output.suffix.lower()
    said = SUFFIXES.get(suffix)
    if said is None or said == chosen:
        return
    right = output.with_suffix(EXTENSIONS[chosen])
    why = "asked for" if requested else "the input's format"
    other = f", or pass --format {said} for a {said} result" if said in WRITABLE else ""
    raise OutputRefused(
        f"the result is {chosen} ({why}) but the name ends in {output.suffix}; "
        f"name it {right}{other}",
        file=str(output),
    )


def _same_file(timeline: Path, output: Path) -> bool:
    try:
        if output.exists():
            return os.path.samefile(timeline, output)
    except OSError:
        return False
    return Path(os.path.abspath(timeline)) == Path(os.path.abspath(output))


def file_mode() -> int:
    """The mode a new file gets under the process umask (0o666 & ~umask)."""
    # os.umask can only be read by setting it; set it straight back.
    current = os.umask(0o022)
    os.umask(current)
    return 0o666 & ~current
