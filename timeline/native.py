"""Results in the editor's own document: the original file plus the Foley, nothing else changed.

`result_document` is the one call: for FCP 7 XML, FCPXML and AAF input answered in the same
format it patches the original file (`fcp7_native`, `fcpxml_native`, `aaf_native`); for every
other case it builds the OTIO result and serializes it (`result.build_result`,
`formats.timeline_to_bytes`).
`check_fidelity` is the proof: every element of the input is in the result unchanged, and the
only additions are the Foley tracks and what they reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from timeline import aaf_native, fcp7_native, fcpxml_native
from timeline.errors import ResultError, TimelineError, UnsupportedFormat
from timeline.formats import LoadedTimeline, normalize_format, timeline_to_bytes
from timeline.native_xml import (
    FidelityReport,
    ParsedDocument,
    parse_document,
    serialize_document,
    xml_fidelity,
)
from timeline.records import GeneratedAudio, SpottedClip
from timeline.result import build_result, foley_lanes
from timeline.timebase import timebase_of

NATIVE_FORMATS = ("fcp_xml", "fcpxml", "aaf")


@dataclass(frozen=True)
class ResultDocument:
    """The result timeline's bytes, its format, and whether it is the patched original."""

    data: bytes
    format: str
    native: bool


def result_document(
    loaded: LoadedTimeline,
    spotted: Sequence[SpottedClip],
    generated: Sequence[GeneratedAudio],
    *,
    handles_frames: int = 0,
    target_format: str | None = None,
) -> ResultDocument:
    """The result of a job as bytes in `target_format` (the input's format when None).

    Raises ResultError when the audio does not fit the spotted clips or the document has no
    place for the Foley, UnsupportedFormat for read-only formats.
    """
    target = normalize_format(target_format or loaded.format)
    if handles_frames < 0:
        raise ResultError(f"handles must be 0 or more frames, not {handles_frames}")
    native = target == loaded.format and loaded.original is not None
    if native and target in ("fcp_xml", "fcpxml"):
        data = patch_native(
            loaded.original,
            target,
            str(loaded.timeline.name or ""),
            spotted,
            generated,
            handles_frames=handles_frames,
            file=loaded.source_name,
            document=loaded.document,
        )
        return ResultDocument(data, target, native=True)
    if native and target == "aaf":
        try:
            data = aaf_native.patch_aaf(
                loaded.original,
                str(loaded.timeline.name or ""),
                foley_lanes(spotted, generated),
                handles_frames=handles_frames,
                rate=timebase_of(loaded.timeline).rate,
                file=loaded.source_name,
            )
        except TimelineError as error:
            raise error.with_file(loaded.source_name) from None
        return ResultDocument(data, target, native=True)
    timeline = build_result(
        loaded.timeline,
        spotted,
        generated,
        handles_frames=handles_frames,
        target_format=target,
    )
    return ResultDocument(timeline_to_bytes(timeline, target), target, native=False)


def patch_native(
    original: bytes,
    format: str,
    timeline_name: str,
    spotted: Sequence[SpottedClip],
    generated: Sequence[GeneratedAudio],
    *,
    handles_frames: int,
    file: str,
    document: ParsedDocument | None = None,
) -> bytes:
    """The original document with the Foley lanes added (FCP 7 XML or FCPXML).

    `document`: the tree read from `original` (ids checked), used instead of parsing it again
    when it has not been taken by an earlier result.
    """
    lanes = foley_lanes(spotted, generated)
    if format == "aaf":
        raise UnsupportedFormat("AAF results are patched by patch_aaf", file=file)
    patchers = {"fcp_xml": fcp7_native.patch_document, "fcpxml": fcpxml_native.patch_document}
    if format not in patchers:
        raise UnsupportedFormat(f"no native writer for {format}", file=file)
    tree = document.take() if document is not None else None
    checked = tree is not None
    if tree is None:
        tree = parse_document(original, file=file)
    root = tree.getroot()
    try:
        stand_ins = patchers[format](
            root,
            timeline_name,
            lanes,
            handles_frames=handles_frames,
            file=file,
            ids_checked=checked,
        )
    except TimelineError as error:
        raise error.with_file(file) from None
    return serialize_document(tree, original, stand_ins)


def check_fidelity(original: bytes, result: bytes, format: str) -> FidelityReport:
    """Whether `result` holds every element of `original` unchanged, plus Foley only."""
    chosen = normalize_format(format)
    if chosen == "fcp_xml":
        return xml_fidelity(original, result, is_foley=fcp7_native.is_foley_element)
    if chosen == "fcpxml":
        return xml_fidelity(original, result, is_foley=fcpxml_native.is_foley_element)
    if chosen == "aaf":
        return aaf_native.aaf_fidelity(original, result)
    raise UnsupportedFormat(f"no native fidelity check for {chosen}")
