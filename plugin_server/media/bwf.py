"""Broadcast WAV (EBU Tech 3285 v2) headers, packed by hand with struct.

Layout: `RIFF` size `WAVE`, then `bext`, `fmt `, (`fact` for float), `data`. Every chunk is
word-aligned: an odd-sized chunk is followed by one zero pad byte not counted in its size.

- `bext` (602 bytes + coding history): Description[256], Originator[32],
  OriginatorReference[32], OriginationDate[10] "yyyy-mm-dd", OriginationTime[8] "hh:mm:ss",
  TimeReferenceLow/High (uint32 each: the first sample's position in samples since midnight),
  Version (2), UMID[64], LoudnessValue, LoudnessRange, MaxTruePeakLevel, MaxMomentaryLoudness,
  MaxShortTermLoudness (int16, value x 100; 0x7FFF where not measured), Reserved[180],
  CodingHistory (ASCII lines ending CR LF).
- `fmt ` for 24-bit PCM is WAVE_FORMAT_EXTENSIBLE (40 bytes: valid bits 24, channel mask front
  centre for mono, front left | front right for stereo, sub-format KSDATAFORMAT_SUBTYPE_PCM);
  for 32-bit float it is WAVE_FORMAT_IEEE_FLOAT (18 bytes, cbSize 0) followed by a `fact`
  chunk holding the number of sample frames, as non-PCM formats require.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

SampleFormat = Literal["pcm24", "float32"]

WAVE_FORMAT_IEEE_FLOAT = 0x0003
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
# KSDATAFORMAT_SUBTYPE_PCM, {00000001-0000-0010-8000-00AA00389B71}, in its little-endian
# GUID byte layout.
_SUBTYPE_PCM = struct.pack("<IHH8s", 0x00000001, 0x0000, 0x0010, bytes.fromhex("800000aa00389b71"))
_SPEAKER_FRONT_CENTER = 0x4
_SPEAKER_FRONT_LEFT_RIGHT = 0x1 | 0x2
NOT_MEASURED = 0x7FFF
_BEXT_FIXED_SIZE = 602
_RIFF_LIMIT = 0xFFFFFFFF


@dataclass(frozen=True)
class BextFields:
    """The bext values we write. Loudness values are in LUFS / dBTP, None where not measured."""

    description: str
    originator: str
    originator_reference: str
    origination: datetime
    time_reference_samples: int
    loudness_lufs: float | None = None
    true_peak_dbtp: float | None = None
    coding_history: str = ""


def bytes_per_sample(sample_format: SampleFormat) -> int:
    return 3 if sample_format == "pcm24" else 4


def bext_chunk(fields: BextFields) -> bytes:
    """The whole `bext` chunk: id, size, payload and pad byte when the payload is odd."""
    time_reference = fields.time_reference_samples
    payload = struct.pack(
        "<256s32s32s10s8sIIH64s5h180s",
        _ascii(fields.description, 256),
        _ascii(fields.originator, 32),
        _ascii(fields.originator_reference, 32),
        fields.origination.strftime("%Y-%m-%d").encode("ascii"),
        fields.origination.strftime("%H:%M:%S").encode("ascii"),
        time_reference & 0xFFFFFFFF,
        time_reference >> 32,
        2,
        b"",
        _centi(fields.loudness_lufs),
        NOT_MEASURED,  # loudness range: not measured
        _centi(fields.true_peak_dbtp),
        NOT_MEASURED,  # max momentary loudness
        NOT_MEASURED,  # max short-term loudness
        b"",
    )
    assert len(payload) == _BEXT_FIXED_SIZE
    return _chunk(b"bext", payload + fields.coding_history.encode("ascii", "replace"))


def fmt_chunks(
    sample_format: SampleFormat, channels: int, sample_rate: int, num_frames: int
) -> bytes:
    """`fmt ` (and `fact` for float) for `channels` interleaved channels."""
    width = bytes_per_sample(sample_format)
    block_align = width * channels
    common = struct.pack("<HIIH", channels, sample_rate, sample_rate * block_align, block_align)
    if sample_format == "float32":
        fmt = struct.pack("<H", WAVE_FORMAT_IEEE_FLOAT) + common + struct.pack("<HH", 32, 0)
        return _chunk(b"fmt ", fmt) + _chunk(b"fact", struct.pack("<I", num_frames))
    mask = _SPEAKER_FRONT_CENTER if channels == 1 else _SPEAKER_FRONT_LEFT_RIGHT
    fmt = (
        struct.pack("<H", WAVE_FORMAT_EXTENSIBLE)
        + common
        + struct.pack("<HHHI", 24, 22, 24, mask)
        + _SUBTYPE_PCM
    )
    return _chunk(b"fmt ", fmt)


def riff_header(chunks_before_data: bytes, data_size: int) -> bytes:
    """`RIFF` header, the given chunks, and the `data` chunk header (its payload follows)."""
    pad = data_size % 2
    riff_size = 4 + len(chunks_before_data) + 8 + data_size + pad
    if riff_size > _RIFF_LIMIT:
        raise OverflowError(f"a RIFF file holds at most 4 GiB; this one needs {riff_size} bytes")
    return (
        b"RIFF"
        + struct.pack("<I", riff_size)
        + b"WAVE"
        + chunks_before_data
        + b"data"
        + struct.pack("<I", data_size)
    )


def coding_history(sample_format: SampleFormat, sample_rate: int, channels: int, tool: str) -> str:
    """One EBU R 98 coding-history line, e.g. "A=PCM,F=48000,W=24,M=mono,T=foley-backend"."""
    bits = 24 if sample_format == "pcm24" else 32
    mode = "mono" if channels == 1 else "dual-mono"
    return f"A=PCM,F={sample_rate},W={bits},M={mode},T={tool}\r\n"


def _chunk(chunk_id: bytes, payload: bytes) -> bytes:
    pad = b"\x00" if len(payload) % 2 else b""
    return chunk_id + struct.pack("<I", len(payload)) + payload + pad


def _ascii(text: str, size: int) -> bytes:
    """Fixed-size ASCII field: non-ASCII characters become '?', the rest is cut or NUL-padded."""
    return text.encode("ascii", "replace")[:size]


def _centi(value: float | None) -> int:
    if value is None:
        return NOT_MEASURED
    return max(-32768, min(32766, round(value * 100)))
