"""OTIO bundles: .otioz (a zip) and .otiod (a directory) holding content.otio and media/.

OTIO's own bundle writers insist that every media reference of the timeline is a local file and
rewrite them all. A Foley result references the editor's picture media, which is usually not on
the server, so this module bundles only the files it is given (the generated audio) and leaves
every other reference as the editor wrote it. The layout is OTIO's, so OTIO reads the result.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import opentimelineio as otio

from timeline.errors import MalformedTimeline, WriteError

CONTENT_NAME = "content.otio"
VERSION_NAME = "version.txt"
VERSION = "1.0.0"
MEDIA_DIR = "media"
# A timeline's JSON is small; a content.otio larger than this in a zip is a zip bomb.
MAX_CONTENT_BYTES = 512 * 1024 * 1024


_READ_PIECE = 1 << 20


def content_from_zip(data: bytes, *, file: str, max_bytes: int = MAX_CONTENT_BYTES) -> str:
    """The content.otio text of an .otioz held in memory, refused once more than `max_bytes`
    have been inflated (counted as read: the sizes an archive declares can lie)."""
    pieces: list[bytes] = []
    _inflate(data, max_bytes, file, pieces.append)
    try:
        return b"".join(pieces).decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedTimeline(f"{CONTENT_NAME} is not UTF-8 text: {error}", file=file) from None


def check_content_size(data: bytes, max_bytes: int, *, file: str) -> None:
    """Raise MalformedTimeline when the .otioz's content.otio inflates beyond `max_bytes`
    (or the archive is unreadable); keeps at most one piece in memory."""
    _inflate(data, max_bytes, file, lambda _piece: None)


def _inflate(data: bytes, max_bytes: int, file: str, sink: Callable[[bytes], object]) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            try:
                info = archive.getinfo(CONTENT_NAME)
            except KeyError:
                raise MalformedTimeline(
                    f"the zip holds no {CONTENT_NAME}, so it is not an .otioz bundle", file=file
                ) from None
            if info.file_size > max_bytes:
                raise MalformedTimeline(
                    f"{CONTENT_NAME} claims {info.file_size} bytes; this server reads at most "
                    f"{max_bytes} bytes of timeline",
                    file=file,
                )
            read = 0
            with archive.open(info) as stream:
                while piece := stream.read(_READ_PIECE):
                    read += len(piece)
                    if read > max_bytes:
                        raise MalformedTimeline(
                            f"{CONTENT_NAME} inflates to more than {max_bytes} bytes, the most "
                            "this server reads as a timeline",
                            file=file,
                        )
                    sink(piece)
    # zipfile reports damaged archives through all of these (bad headers, truncated streams,
    # unsupported compression, bad CRCs, undecodable text).
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        EOFError,
        ValueError,
        NotImplementedError,
        RuntimeError,
    ) as error:
        raise MalformedTimeline(f"not a readable .otioz bundle: {error}", file=file) from error


def bundled_copy(
    timeline: otio.schema.Timeline, media_files: Sequence[Path]
) -> tuple[otio.schema.Timeline, dict[str, Path]]:
    """A copy whose references to `media_files` point inside the bundle, and name -> file.

    Two files with the same base name get distinct names inside the bundle.
    """
    names: dict[Path, str] = {}
    taken: set[str] = set()
    for file in media_files:
        resolved = Path(file).resolve()
        if resolved in names:
            continue
        if not resolved.is_file():
            raise WriteError(f"media file {file} to bundle does not exist")
        name = resolved.name
        counter = 1
        while name in taken:
            counter += 1
            name = f"{resolved.stem}_{counter}{resolved.suffix}"
        taken.add(name)
        names[resolved] = name

    copy = timeline.deepcopy()
    for clip in copy.find_clips():
        reference = clip.media_reference
        if not isinstance(reference, otio.schema.ExternalReference):
            continue
        local = _local_file(reference.target_url)
        if local is not None and local in names:
            reference.target_url = f"{MEDIA_DIR}/{names[local]}"
    return copy, {name: path for path, name in names.items()}


def write_zip(content: str, media: dict[str, Path], target: io.BufferedIOBase | Path) -> None:
    """Write an .otioz: version, content.otio (deflated) and media/ (stored: audio is dense)."""
    with zipfile.ZipFile(target, mode="w") as archive:
        archive.writestr(VERSION_NAME, VERSION, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr(CONTENT_NAME, content, compress_type=zipfile.ZIP_DEFLATED)
        for name, path in sorted(media.items()):
            archive.write(path, f"{MEDIA_DIR}/{name}", compress_type=zipfile.ZIP_STORED)


def write_directory(content: str, media: dict[str, Path], directory: Path) -> None:
    """Fill an (empty, existing) directory as an .otiod bundle."""
    (directory / VERSION_NAME).write_text(VERSION, encoding="utf-8")
    (directory / CONTENT_NAME).write_text(content, encoding="utf-8")
    media_dir = directory / MEDIA_DIR
    media_dir.mkdir()
    for name, path in media.items():
        (media_dir / name).write_bytes(path.read_bytes())


def _local_file(url: str) -> Path | None:
    if url.startswith("file:"):
        try:
            return Path(otio.url_utils.filepath_from_url(url)).resolve()
        except (ValueError, OSError):
            return None
    if "://" in url:
        return None
    return Path(url).resolve() if Path(url).is_absolute() else None
