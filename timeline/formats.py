"""Every timeline format behind one read/write pair.

Formats: "otio" (OTIO JSON), "otioz" and "otiod" (OTIO bundles), "fcp_xml" (FCP 7 XML from
Premiere, Resolve, Hiero), "fcpxml" (Final Cut Pro), "aaf" (Avid), "edl" (CMX 3600, read only:
an EDL cannot carry the added audio tracks, so EDL input is answered in OTIO).

Reading sniffs the content (an explicit format wins), parses with the OTIO adapter, picks one
timeline when the file holds several, and checks the result can be worked on (a rate that
carries timecode, at least one item). Adapter exceptions of every kind become MalformedTimeline:
only this package's typed errors leave `read_timeline`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import opentimelineio as otio

from timeline import bundles
from timeline.edl import edl_clock
from timeline.errors import (
    EmptyTimeline,
    MalformedTimeline,
    TimelineError,
    UnknownFormat,
    UnsupportedFormat,
    WriteError,
)
from timeline.json_guard import check_otio_json
from timeline.metadata import lookup
from timeline.native_xml import ParsedDocument
from timeline.output_rules import EDL_RESULT_NOTE, SUFFIXES, file_mode, normalize_format
from timeline.selection import normalize_negative_track_starts, select_timeline
from timeline.sniffing import sniff_format
from timeline.timebase import NAMESPACE, timebase_of
from timeline.writer_prep import prepared_for

log = logging.getLogger(__name__)

ADAPTERS = {
    "otio": "otio_json",
    "otioz": "otioz",
    "otiod": "otiod",
    "fcp_xml": "fcp_xml",
    "fcpxml": "fcpx_xml",
    "aaf": "AAF",
    "edl": "cmx_3600",
}
_WRITABLE = ("otio", "otioz", "otiod", "fcp_xml", "fcpxml", "aaf")
_TEXT_FORMATS = ("otio", "fcp_xml", "fcpxml", "edl")
_AS_BYTES = ("otio", "otioz", "fcp_xml", "fcpxml", "aaf")
MAX_TIMELINE_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class LoadedTimeline:
    """A timeline read from a file, with where it came from and what was decided on the way."""

    timeline: otio.schema.Timeline
    format: str
    available_names: tuple[str, ...]
    source_name: str
    notes: tuple[str, ...]
    # The file's own bytes for formats whose result is the patched original (FCP 7 XML, FCPXML,
    # AAF; see timeline.native).
    original: bytes | None = None
    # FCP 7 XML and FCPXML: the tree parsed from `original`, lent to the patch that writes the
    # result so that it is not parsed twice (timeline.native_xml.ParsedDocument).
    document: ParsedDocument | None = field(default=None, compare=False, repr=False)


def readable_formats() -> tuple[str, ...]:
    return tuple(ADAPTERS)


def writable_formats() -> tuple[str, ...]:
    return _WRITABLE


def result_format(input_format: str, requested: str | None = None) -> tuple[str, tuple[str, ...]]:
    """The format a result is written in, and the notes to tell the user about that choice."""
    if requested:
        chosen = normalize_format(requested)
        if chosen not in _WRITABLE:
            raise UnsupportedFormat(
                f"cannot write {chosen}: {EDL_RESULT_NOTE if chosen == 'edl' else 'read only'}; "
                f"choose one of {', '.join(_WRITABLE)}"
            )
        return chosen, ()
    chosen = normalize_format(input_format)
    if chosen == "edl":
        return "otio", (EDL_RESULT_NOTE,)
    return chosen, ()


# --- reading -------------------------------------------------------------------------------------


def read_timeline(
    source: bytes | str | Path,
    *,
    format: str | None = None,
    timeline_name: str | None = None,
    source_name: str | None = None,
    edl_rate: float | None = None,
) -> LoadedTimeline:
    """Read a timeline from a path (str or Path) or from bytes, in any readable format.

    The format is sniffed from the content unless given; the file name's suffix is used only
    when sniffing finds nothing. A file holding several timelines (FCPXML libraries and events,
    AAF with several top-level compositions) gives the one named `timeline_name`, else the first,
    and lists the others in `available_names`. An EDL is read at `edl_rate` when given, else
    at the rate its timecodes imply (see `timeline.edl`). Raises only TimelineError subclasses.
    """
    path: Path | None = None
    if isinstance(source, bytes | bytearray | memoryview):
        data: bytes | None = bytes(source)
        name = source_name or "<timeline bytes>"
    else:
        path = Path(source)
        name = source_name or str(path)
        data = None
    chosen = normalize_format(format, file=name) if format else None
    notes: list[str] = []

    if path is not None:
        if path.is_dir():
            chosen, path = _directory_format(path, chosen, name)
        elif not path.is_file():
            raise TimelineError("no such timeline file", file=name)
        if chosen != "otiod":
            data = read_timeline_bytes(path, name)
    if data is not None and not data.strip():
        raise EmptyTimeline("the file is empty", file=name)
    if chosen is None:
        assert data is not None
        chosen = sniff_format(data)
        if chosen is None and path is not None and path.suffix.lower() in SUFFIXES:
            chosen = SUFFIXES[path.suffix.lower()]
            notes.append(f"format taken from the file name ({path.suffix}): content unclear")
        if chosen is None:
            raise UnknownFormat(
                "not a timeline format this server reads (OTIO, .otioz, .otiod, FCP 7 XML, "
                "FCPXML, AAF, CMX 3600 EDL); pass the format explicitly if it is one of them",
                file=name,
            )

    documents: dict[str, object] = {}
    parsed = _parse(chosen, data, path, name, edl_rate, notes, documents)
    timeline, names, selection_notes = select_timeline(parsed, timeline_name, name)
    notes.extend(selection_notes)
    offset_note = normalize_negative_track_starts(timeline)
    if offset_note:
        notes.append(offset_note)
    original = None
    document = None
    if chosen == "fcpxml" and data is not None:
        original = data
        notes.extend(_apply_document_facts(chosen, timeline, documents["fcpxml"], name))
    elif chosen in ("fcp_xml", "aaf") and data is not None:
        original = data
    if chosen in documents:
        document = ParsedDocument(documents[chosen].getroottree())
    _check_workable(timeline, name)
    return LoadedTimeline(
        timeline=timeline,
        format=chosen,
        available_names=names,
        source_name=name,
        notes=tuple(notes),
        original=original,
        document=document,
    )


def _apply_document_facts(
    chosen: str, timeline: otio.schema.Timeline, root: object, name: str
) -> tuple[str, ...]:
    """What the OTIO FCPXML adapter's model drops, read from the document itself
    (fcpxml_native); `root` is the document `_parse` read the timeline from."""
    # Imported here: it builds on timeline.result, which imports this module.
    from timeline import fcpxml_native

    assert isinstance(root, fcpxml_native.Element)
    try:
        return fcpxml_native.apply_document_facts(timeline, root, file=name)
    except (ValueError, TypeError, ZeroDivisionError, otio.exceptions.OTIOError) as error:
        raise MalformedTimeline(
            f"not a valid fcpxml file: {type(error).__name__}: {_short(error)}", file=name
        ) from error


def _directory_format(path: Path, chosen: str | None, name: str) -> tuple[str, Path]:
    if (path / bundles.CONTENT_NAME).is_file() and chosen in (None, "otiod"):
        return "otiod", path
    info = path / "Info.fcpxml"
    if info.is_file() and chosen in (None, "fcpxml"):
        return "fcpxml", info
    raise UnknownFormat(
        "a directory that is neither an .otiod bundle (content.otio) nor an .fcpxmld bundle "
        "(Info.fcpxml)",
        file=name,
    )


def read_timeline_bytes(path: Path, name: str) -> bytes:
    """A timeline file's bytes; refused unread when it is far larger than any timeline."""
    try:
        size = path.stat().st_size
        if size > MAX_TIMELINE_BYTES:
            raise MalformedTimeline(
                f"{size} bytes is far larger than any timeline; is this a media file?", file=name
            )
        return path.read_bytes()
    except OSError as error:
        raise TimelineError(
            f"cannot read the file: {error.strerror or error}", file=name
        ) from error


def _parse(
    chosen: str,
    data: bytes | None,
    path: Path | None,
    name: str,
    edl_rate: float | None,
    notes: list[str],
    documents: dict[str, object],
) -> object:
    """The file parsed; an XML document's root is left in `documents` under the format."""
    adapter = ADAPTERS[chosen]
    try:
        if chosen == "otiod":
            assert path is not None
            content = _decode(read_timeline_bytes(path / bundles.CONTENT_NAME, name), chosen, name)
            check_otio_json(content, file=name)
            return otio.adapters.read_from_string(content, adapter_name="otio_json")
        assert data is not None
        if chosen == "otioz":
            content = bundles.content_from_zip(data, file=name)
            check_otio_json(content, file=name)
            return otio.adapters.read_from_string(content, adapter_name="otio_json")
        if chosen == "aaf":
            # Read from the compound file itself (aaf_reader: the adapter's model, 7x faster);
            # structures it does not model are read by the adapter itself.
            from timeline.aaf_reader import UnsupportedAAFStructure, read_aaf

            with _temporary_file(data, ".aaf") as temporary:
                try:
                    return read_aaf(str(temporary), file=name)
                except UnsupportedAAFStructure as unsupported:
                    log.info("%s; reading it with OTIO's AAF adapter", unsupported)
                return otio.adapters.read_from_file(str(temporary), adapter_name=adapter)
        if chosen == "fcp_xml":
            # Read from the document itself: OTIO's FCP 7 reader is quadratic and drops
            # enabled flags, speed filters, nested sequences and audio tracks (fcp7_reader).
            # Duplicate ids are refused here (read_fcp7 checks them), before any clip is
            # generated, not when the result is written.
            from timeline.fcp7_reader import read_fcp7
            from timeline.native_xml import parse_document

            root = parse_document(data, file=name, what="fcp_xml").getroot()
            documents["fcp_xml"] = root
            return read_fcp7(root, file=name)
        if chosen == "fcpxml":
            # Read from the document itself: OTIO's FCPXML reader is quadratic (fcpxml_reader
            # builds the same model in linear time); the root is kept for the document facts.
            from timeline.fcpxml_native import check_unique_ids as check_fcpxml_ids
            from timeline.fcpxml_reader import read_fcpxml
            from timeline.native_xml import parse_document

            root = parse_document(data, file=name, what="fcpxml").getroot()
            if root.tag != "fcpxml":
                raise MalformedTimeline(
                    f"the root element is <{root.tag}>, not <fcpxml>", file=name
                )
            check_fcpxml_ids(root, file=name)
            documents["fcpxml"] = root
            return read_fcpxml(root, file=name)
        text = _decode(data, chosen, name)
        if chosen == "otio":
            check_otio_json(text, file=name)
        if chosen in ("fcp_xml", "fcpxml") and "<!ENTITY" in text:
            raise MalformedTimeline(
                "XML entity declarations are not accepted in timelines", file=name
            )
        if chosen == "edl":
            return _parse_edl(text, edl_rate, notes)
        return otio.adapters.read_from_string(text, adapter_name=adapter)
    except TimelineError:
        raise
    # The adapters fail on broken input with whatever their parsers raise (ParseError,
    # KeyError, ValueError, struct.error, IndexError, ...); every one means "not a valid file
    # of this format", which is the error the user can act on.
    except Exception as error:
        raise MalformedTimeline(
            f"not a valid {chosen} file: {type(error).__name__}: {_short(error)}", file=name
        ) from error


def _parse_edl(text: str, rate: float | None, notes: list[str]) -> object:
    clock = edl_clock(text, rate)
    if clock.inferred:
        notes.append(
            f"the EDL names no frame rate; read at {clock.rate:.5g} fps from its timecodes "
            "(pass the rate if that is wrong)"
        )
    parsed = otio.adapters.read_from_string(text, adapter_name="cmx_3600", rate=clock.rate)
    if clock.drop_frame is not None and isinstance(parsed, otio.schema.Timeline):
        parsed.metadata[NAMESPACE] = {"drop_frame": clock.drop_frame}
    return parsed


def _decode(data: bytes, chosen: str, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        if chosen == "edl":
            # CMX 3600 predates UTF-8; Latin-1 decodes every byte and keeps the event lines.
            return data.decode("latin-1")
        raise MalformedTimeline(f"not UTF-8 text: {error}", file=name) from error


@contextlib.contextmanager
def _temporary_file(data: bytes, suffix: str) -> Iterator[Path]:
    handle, name = tempfile.mkstemp(suffix=suffix, prefix="timeline-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def _short(error: BaseException, limit: int = 300) -> str:
    text = str(error).strip().replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "..."


def _check_workable(timeline: otio.schema.Timeline, name: str) -> None:
    tracks = list(timeline.tracks)
    if not tracks:
        raise EmptyTimeline("the timeline has no tracks", file=name)
    if not any(len(track) for track in tracks if isinstance(track, otio.core.Composition)):
        raise EmptyTimeline("every track of the timeline is empty", file=name)
    timebase_of(timeline, file=name)


# --- writing -------------------------------------------------------------------------------------


def write_timeline(
    timeline: otio.schema.Timeline,
    format: str,
    path: Path,
    *,
    media_files: Sequence[Path] = (),
) -> Path:
    """Write `timeline` to `path` in `format`, atomically: a complete file or nothing.

    .otioz and .otiod bundle the Foley audio the timeline references (found through its
    `foley` metadata) plus `media_files`; other references stay as written. Raises
    UnsupportedFormat for read-only formats and WriteError when the writer fails.
    """
    chosen = _writable(format)
    path = Path(path)
    if not path.parent.is_dir():
        raise WriteError(f"the folder {path.parent} does not exist", file=path)
    if chosen == "otiod":
        _write_directory(timeline, path, media_files)
        return path
    handle, temporary_name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".partial"
    )
    os.fchmod(handle, file_mode())  # mkstemp makes 0600; a result follows the umask
    os.close(handle)
    temporary = Path(temporary_name)
    try:
        if chosen == "aaf":
            _write_aaf(timeline, temporary)
        else:
            temporary.write_bytes(timeline_to_bytes(timeline, chosen, media_files=media_files))
        os.replace(temporary, path)
    except WriteError as error:
        temporary.unlink(missing_ok=True)
        raise WriteError(error.detail, file=path, clip=error.clip) from error
    except TimelineError:
        temporary.unlink(missing_ok=True)
        raise
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise WriteError(f"cannot write: {error}", file=path) from error
    return path


def timeline_to_bytes(
    timeline: otio.schema.Timeline, format: str, *, media_files: Sequence[Path] = ()
) -> bytes:
    """The timeline serialized in `format` (every writable format but the .otiod directory)."""
    chosen = _writable(format)
    if chosen not in _AS_BYTES:
        raise UnsupportedFormat(f"{chosen} is a directory and cannot be returned as bytes")
    if chosen == "otioz":
        content, media = _bundle(timeline, media_files)
        buffer = io.BytesIO()
        bundles.write_zip(content, media, buffer)
        return buffer.getvalue()
    if chosen == "aaf":
        with _temporary_file(b"", ".aaf") as temporary:
            temporary.unlink()
            _write_aaf(timeline, temporary)
            return temporary.read_bytes()
    prepared = prepared_for(chosen, timeline)
    options = dict(prepared.options)
    if chosen == "otio":
        # Compact JSON: a third of the bytes of OTIO's default indent, and faster to send.
        options["indent"] = -1
    try:
        text = otio.adapters.write_to_string(
            prepared.timeline, adapter_name=ADAPTERS[chosen], **options
        )
    # Writers fail on timelines they cannot express with whatever their code raises.
    except Exception as error:
        raise _write_failed(chosen, error) from error
    return prepared.finish(text).encode("utf-8")


def _writable(format: str) -> str:
    chosen = normalize_format(format)
    if chosen not in _WRITABLE:
        reason = EDL_RESULT_NOTE if chosen == "edl" else "this format is read only"
        raise UnsupportedFormat(
            f"cannot write {chosen}: {reason}; writable: {', '.join(_WRITABLE)}"
        )
    return chosen


def _write_aaf(timeline: otio.schema.Timeline, path: Path) -> None:
    prepared = prepared_for("aaf", timeline)
    try:
        otio.adapters.write_to_file(
            prepared.timeline, str(path), adapter_name="AAF", **prepared.options
        )
    # The AAF writer fails through pyaaf2 and its own validation with many exception types.
    except Exception as error:
        path.unlink(missing_ok=True)
        raise _write_failed("aaf", error) from error


def _write_failed(chosen: str, error: Exception) -> WriteError:
    return WriteError(
        f"the {chosen} writer failed: {type(error).__name__}: {_short(error)}; "
        "write the result as otio instead, which carries everything"
    )


def _bundle(
    timeline: otio.schema.Timeline, media_files: Sequence[Path]
) -> tuple[str, dict[str, Path]]:
    files = [*foley_audio_files(timeline), *media_files]
    copy, media = bundles.bundled_copy(timeline, files)
    return otio.adapters.write_to_string(copy, adapter_name="otio_json", indent=-1), media


def _write_directory(
    timeline: otio.schema.Timeline, path: Path, media_files: Sequence[Path]
) -> None:
    content, media = _bundle(timeline, media_files)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial"))
    try:
        bundles.write_directory(content, media, staging)
        if path.exists():
            raise WriteError("the destination already exists; remove it first", file=path)
        os.replace(staging, path)
    except OSError as error:
        _remove_tree(staging)
        raise WriteError(f"cannot write the bundle: {error}", file=path) from error
    except TimelineError:
        _remove_tree(staging)
        raise


def _remove_tree(directory: Path) -> None:
    for child in sorted(directory.rglob("*"), reverse=True):
        if child.is_dir():
            child.rmdir()
        else:
            child.unlink()
    directory.rmdir()


def foley_audio_files(timeline: otio.schema.Timeline) -> list[Path]:
    """Local audio files referenced by the clips this package added (they carry `foley`)."""
    files = []
    for clip in timeline.find_clips():
        if lookup(clip.metadata, NAMESPACE) is None:
            continue
        reference = clip.media_reference
        if not isinstance(reference, otio.schema.ExternalReference):
            continue
        url = reference.target_url
        local = otio.url_utils.filepath_from_url(url) if url.startswith("file:") else url
        if Path(local).is_file():
            files.append(Path(local))
    return files
