"""What a library file is about, in words: from its name, folders and embedded metadata.

Sources, strongest first (the index weighs them in that order):
- the file name: the Universal Category System convention `CatID_FXName_CreatorID_SourceID`
  (e.g. `DOORWood_Front Door Slam_JD_HomeLib.wav`), else the plain stem;
- the CatID, expanded: its upper-case category code through `CATEGORY_WORDS` (`FEET` also
  finds "footsteps") and its sub-category word (`Wood`);
- the folder names between the library root and the file;
- Broadcast WAV `bext` description and iXML text fields, read straight from the RIFF chunks.
"""

from __future__ import annotations

import logging
import re
import struct
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# Category codes (the capital letters opening a UCS CatID) and the words an editor types for
# them. A code not listed is still indexed as the word it spells.
CATEGORY_WORDS: dict[str, str] = {
    "AIR": "air",
    "AMB": "ambience room tone background",
    "ANML": "animal",
    "BELL": "bell",
    "BIRD": "bird",
    "BOAT": "boat",
    "CERM": "ceramic",
    "CLOTH": "cloth fabric",
    "CLOK": "clock",
    "CRWD": "crowd walla",
    "DOOR": "door",
    "DSGN": "designed",
    "DRWR": "drawer",
    "ELEC": "electric electronic",
    "EXPL": "explosion",
    "FEET": "footsteps feet steps",
    "FIRE": "fire",
    "FOLY": "foley",
    "GLAS": "glass",
    "GUNS": "gun",
    "HORN": "horn",
    "IMPT": "impact hit",
    "LIQD": "liquid",
    "MACH": "machine",
    "METL": "metal",
    "PAPR": "paper",
    "PLAS": "plastic",
    "RAIN": "rain",
    "ROCK": "rock stone",
    "ROOM": "room tone",
    "SWSH": "swish swoosh",
    "THUN": "thunder",
    "TOOL": "tool",
    "TRFC": "traffic street",
    "VEH": "vehicle car",
    "WATR": "water",
    "WEAP": "weapon",
    "WHSH": "whoosh",
    "WIND": "wind",
    "WOOD": "wood",
    "WTHR": "weather",
}

_CATID = re.compile(r"^([A-Z]+?)([A-Z][a-z][A-Za-z]*)?$")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_MAX_CHUNKS = 64
_MAX_TEXT_CHUNK = 1 << 20
# iXML elements whose text describes the sound (others hold timecode, takes, devices).
_IXML_FIELDS = frozenset(
    {
        "NOTE",
        "DESCRIPTION",
        "FXNAME",
        "CATEGORY",
        "SUBCATEGORY",
        "CATEGORYFULL",
        "KEYWORDS",
        "TRACK_NAME",
        "NAME",
        "SCENE",
        "LIBRARY",
    }
)


@dataclass(frozen=True)
class Description:
    """Words per index column, and one line for reports."""

    name: str
    category: str
    folders: str
    notes: str

    @property
    def line(self) -> str:
        parts = [self.name]
        if self.category:
            parts.append(f"[{self.category}]")
        if self.notes:
            parts.append(f"- {self.notes[:120]}")
        return " ".join(parts)

    @property
    def words(self) -> set[str]:
        text = " ".join((self.name, self.category, self.folders, self.notes)).lower()
        return set(re.findall(r"[a-z]+", text))


@dataclass(frozen=True)
class RiffFormat:
    """What a plain PCM or float WAV file's fmt and data chunks say (no decoder needed)."""

    sample_rate: int
    channels: int
    frames: int


@dataclass(frozen=True)
class RiffChunks:
    """The texts (bext description, iXML fields) of a WAV file, and its format when it is
    plain PCM/float with a data chunk of known size (None otherwise: libsndfile decides)."""

    texts: tuple[str, ...] = ()
    format: RiffFormat | None = None


def describe(path: Path, library: Path, chunks: RiffChunks | None = None) -> Description:
    """The words describing `path`, a file of `library`; `chunks` are its RIFF chunks when
    already read (WAV files), else read here for WAV/BWF names."""
    name, category = _from_name(path.stem)
    relative = path.parent.relative_to(library) if path.parent != library else Path()
    folders = " ".join(_words(part) for part in relative.parts)
    if chunks is None and path.suffix.lower() in (".wav", ".bwf"):
        chunks = read_riff(path)
    notes = " ".join(part for part in (chunks.texts if chunks else ()) if part)
    return Description(name=name, category=category, folders=folders, notes=notes)


def _from_name(stem: str) -> tuple[str, str]:
    parts = stem.split("_")
    match = _CATID.match(parts[0]) if len(parts) >= 2 else None
    if match is None:
        return _words(stem), ""
    code, sub = match.group(1), match.group(2) or ""
    category = " ".join(w for w in (code.lower(), CATEGORY_WORDS.get(code, ""), sub.lower()) if w)
    # UCS: FXName is the second field; CreatorID and SourceID follow and are not descriptive.
    return _words(parts[1]), category


def _words(text: str) -> str:
    spaced = _CAMEL.sub(" ", text)
    return " ".join(re.findall(r"[A-Za-z]+|\d+", spaced)).strip()


def read_riff(path: Path) -> RiffChunks:
    """The bext/iXML texts and the plain format of a RIFF/RF64 WAV file, reading only chunk
    headers and the text chunks (never the audio). Not RIFF, or unreadable: RiffChunks()."""
    texts: list[str] = []
    fmt: tuple[int, int, int, int] | None = None
    data_bytes: int | None = None
    try:
        with path.open("rb") as handle:
            header = handle.read(12)
            if len(header) < 12 or header[:4] not in (b"RIFF", b"RF64") or header[8:] != b"WAVE":
                return RiffChunks()
            for _ in range(_MAX_CHUNKS):
                chunk = handle.read(8)
                if len(chunk) < 8:
                    break
                chunk_id, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if chunk_id in (b"bext", b"iXML") and size <= _MAX_TEXT_CHUNK:
                    body = handle.read(size)
                    texts.append(_bext(body) if chunk_id == b"bext" else _ixml(body, path))
                elif chunk_id == b"fmt " and 16 <= size <= 64:
                    tag, channels, rate, _, align = struct.unpack("<HHIIH", handle.read(14))
                    fmt = (tag, channels, rate, align)
                    handle.seek(size - 14, 1)
                elif chunk_id == b"data":
                    if size == 0xFFFFFFFF:
                        break  # RF64: the real size is in ds64; libsndfile reads that
                    data_bytes = size
                    handle.seek(size, 1)
                else:
                    handle.seek(size, 1)
                if size % 2:
                    handle.seek(1, 1)  # RIFF chunks are padded to an even length
    except (OSError, struct.error) as error:
        log.debug("%s: RIFF chunks unreadable (%s)", path, error)
        return RiffChunks(tuple(texts))
    return RiffChunks(tuple(texts), _plain_format(fmt, data_bytes))


def _plain_format(
    fmt: tuple[int, int, int, int] | None, data_bytes: int | None
) -> RiffFormat | None:
    if fmt is None or data_bytes is None:
        return None
    tag, channels, rate, align = fmt
    # PCM, IEEE float and WAVE_FORMAT_EXTENSIBLE: what libsndfile always decodes.
    if tag not in (1, 3, 0xFFFE) or channels < 1 or rate < 1 or align < channels:
        return None
    return RiffFormat(sample_rate=rate, channels=channels, frames=data_bytes // align)


def _bext(body: bytes) -> str:
    # EBU Tech 3285: the first field is a 256-byte ASCII description, NUL-padded.
    return body[:256].split(b"\x00", 1)[0].decode("latin-1").strip()


def _ixml(body: bytes, path: Path) -> str:
    try:
        root = ElementTree.fromstring(body.rstrip(b"\x00").strip())
    except ElementTree.ParseError as error:
        log.debug("%s: iXML chunk is not XML (%s)", path, error)
        return ""
    texts = [
        element.text.strip()
        for element in root.iter()
        if element.tag.upper() in _IXML_FIELDS and element.text and element.text.strip()
    ]
    return " ".join(dict.fromkeys(texts))
