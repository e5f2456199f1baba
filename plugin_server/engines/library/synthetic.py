"""Generated sound libraries for tests and benchmarks: synthesised one-shots and beds under
Universal Category System names, written as real WAV/BWF, FLAC and AIFF files.

Every one-shot starts with a lead-in of quiet noise before its attack, at a known sample, so a
test can check that the engine put that attack (not the file's first sample) on the event.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile

from plugin_server.pipeline.atomic import write_bytes_atomically

# (folder, UCS CatID, FXName) of the one-shots and beds `make_library` writes.
_ONE_SHOTS = (
    ("Doors", "DOORWood", "Door Slam Heavy"),
    ("Doors", "DOORWood", "Door Slam Light"),
    ("Doors", "DOORMetl", "Metal Door Slam"),
    ("Footsteps/Wood", "FEETWood", "Boot Step Wood Floor"),
    ("Footsteps/Wood", "FEETWood", "Heel Step Wood Floor"),
    ("Footsteps/Gravel", "FEETGrvl", "Boot Step Gravel"),
    ("Glass", "GLASBreak", "Bottle Smash"),
)
_BEDS = (
    ("Weather", "RAINMed", "Steady Rain On Roof"),
    ("Weather", "WINDGust", "Gusty Wind Field"),
    ("Interiors", "ROOMTone", "Quiet Office Room Tone"),
)
_FORMATS = (("wav", "PCM_24"), ("flac", "PCM_16"), ("aiff", "PCM_16"))
_RATES = (48_000, 44_100, 96_000)


@dataclass(frozen=True)
class SyntheticLibrary:
    """`one_shots`: path -> attack time (seconds into the file); `beds`: their paths."""

    root: Path
    one_shots: dict[Path, float] = field(default_factory=dict)
    beds: tuple[Path, ...] = ()


def make_library(root: Path, seed: int = 0) -> SyntheticLibrary:
    """Write a small library under `root`: seven one-shots (doors, footsteps, glass) and three
    beds (rain, wind, room tone), across WAV (some with bext and iXML), FLAC and AIFF, at
    44.1, 48 and 96 kHz, mono and stereo."""
    rng = np.random.default_rng(seed)
    one_shots: dict[Path, float] = {}
    for number, (folder, cat_id, name) in enumerate(_ONE_SHOTS):
        extension, subtype = _FORMATS[number % len(_FORMATS)]
        rate = _RATES[number % len(_RATES)]
        samples, attack = one_shot(rng, rate, seconds=0.25)
        path = root / folder / f"{cat_id}_{name}_GEN_SynthLib.{extension}"
        channels = 2 if number % 2 else 1
        write_audio(path, samples, rate, subtype=subtype, channels=channels)
        one_shots[path] = attack / rate
    beds = []
    for number, (folder, cat_id, name) in enumerate(_BEDS):
        rate = _RATES[number % len(_RATES)]
        path = root / folder / f"{cat_id}_{name}_GEN_SynthLib.wav"
        write_audio(
            path,
            bed(rng, rate, seconds=2.5),
            rate,
            subtype="PCM_24",
            bext_description=f"{name}, generated",
            ixml_note="synthetic bed for tests",
        )
        beds.append(path)
    return SyntheticLibrary(root=root, one_shots=one_shots, beds=tuple(beds))


def one_shot(rng: np.random.Generator, rate: int, seconds: float) -> tuple[np.ndarray, int]:
    """A struck sound: a lead-in of quiet noise (15..60 ms), then a sharp attack decaying
    over a few tens of ms, with its own random modes. Returns (float32 [n], attack sample)."""
    count = round(seconds * rate)
    attack = round(float(rng.uniform(0.015, 0.060)) * rate)
    samples = (rng.standard_normal(count) * 1e-4).astype(np.float32)
    t = np.arange(count - attack) / rate
    decay = np.exp(-t / float(rng.uniform(0.02, 0.05)))
    body = rng.standard_normal(len(t)) * 0.6
    for _ in range(3):
        body += np.sin(2 * np.pi * float(rng.uniform(150, 3000)) * t + float(rng.uniform(0, 6)))
    samples[attack:] += (0.8 * decay * body / np.abs(body).max()).astype(np.float32)
    return samples, attack


def bed(rng: np.random.Generator, rate: int, seconds: float) -> np.ndarray:
    """A steady bed: lowpassed noise, a 220 Hz hum and a slow drift from -0.2 to +0.2, so
    that its end does not meet its start (butted end to start, it clicks)."""
    count = round(seconds * rate)
    smooth = np.convolve(rng.standard_normal(count), np.ones(64) / 8, mode="same")
    hum = 0.4 * np.sin(2 * np.pi * 220.0 * np.arange(count) / rate + 0.7)
    drift = np.linspace(-0.2, 0.2, count)
    return (0.1 * smooth + hum + drift).astype(np.float32)


@dataclass(frozen=True)
class Placement:
    """Where a library file was found in a mix: how alike (normalised cross-correlation,
    1.0 = that waveform exactly, at any gain) and the time its attack lands (s)."""

    similarity: float
    attack_time_s: float


def find_placement(
    mix: np.ndarray, rate: int, file: Path, attack_s: float, event_s: float, search_s: float = 0.1
) -> Placement:
    """Search `mix` (mono float [n] at `rate`) within +-`search_s` of where `file` must start
    for its attack (`attack_s` into the file) to land on `event_s`, and say where it fits best.
    The file is read as the engine reads it (mono, resampled to `rate`)."""
    from scipy import signal

    from plugin_server.engines.library.audio import read_mono

    waveform = read_mono(file, rate, 30.0)
    reach = round(search_s * rate)
    start = max(0, round((event_s - attack_s) * rate) - reach)
    window = mix[start : start + len(waveform) + 2 * reach].astype(np.float64)
    correlation = signal.correlate(window, waveform, mode="valid")
    energy = np.sqrt(signal.correlate(window**2, np.ones(len(waveform)), mode="valid"))
    normalised = correlation / (energy * np.linalg.norm(waveform) + 1e-12)
    lag = int(np.argmax(normalised))
    return Placement(float(normalised[lag]), (start + lag) / rate + attack_s)


def write_audio(
    path: Path,
    samples: np.ndarray,
    rate: int,
    *,
    subtype: str = "PCM_16",
    channels: int = 1,
    bext_description: str | None = None,
    ixml_note: str | None = None,
) -> None:
    """Write mono `samples` (duplicated to `channels`) in the format `path`'s suffix names,
    adding a bext description and an iXML NOTE to WAV files when given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.repeat(samples[:, None], channels, axis=1) if channels > 1 else samples
    suffix = path.suffix.lower().lstrip(".")
    kind = {"wav": "WAV", "bwf": "WAV", "flac": "FLAC", "aif": "AIFF", "aiff": "AIFF"}[suffix]
    temporary = path.with_name(f".{path.name}.tmp")
    soundfile.write(str(temporary), data, rate, subtype=subtype, format=kind)
    content = temporary.read_bytes()
    temporary.unlink()
    if kind == "WAV" and (bext_description or ixml_note):
        content = _with_chunks(content, bext_description, ixml_note)
    write_bytes_atomically(path, content)


def _with_chunks(content: bytes, description: str | None, note: str | None) -> bytes:
    chunks = b""
    if description:
        # EBU Tech 3285 bext: 256-byte description first; the rest of the fixed part is zero.
        body = description.encode("latin-1")[:256].ljust(256, b"\x00") + bytes(346)
        chunks += b"bext" + struct.pack("<I", len(body)) + body
    if note:
        xml = f"<BWFXML><IXML_VERSION>2.10</IXML_VERSION><NOTE>{note}</NOTE></BWFXML>".encode()
        xml += b"\x00" * (len(xml) % 2)
        chunks += b"iXML" + struct.pack("<I", len(xml)) + xml
    riff_size = struct.unpack("<I", content[4:8])[0] + len(chunks)
    return content[:4] + struct.pack("<I", riff_size) + content[8:] + chunks


# The bulk library's vocabulary: like a real one, each word names a few percent of the files.
_BULK_CATEGORIES = (
    "DOORWood",
    "DOORMetl",
    "FEETWood",
    "FEETGrvl",
    "GLASBreak",
    "METLImpt",
    "WOODCrsh",
    "PAPRTear",
    "CLOTHMvmt",
    "WATRSplsh",
    "RAINMed",
    "WINDGust",
    "AMBUrbn",
    "VEHCar",
    "TOOLHand",
    "MACHMotr",
    "ELECBuzz",
    "ANMLDog",
    "BIRDSong",
    "FIREBurn",
    "CERMClnk",
    "PLASCrnch",
    "ROCKSlid",
    "HORNCar",
)
_BULK_NOUNS = (
    "slam",
    "step",
    "crash",
    "tear",
    "rustle",
    "splash",
    "knock",
    "scrape",
    "drop",
    "hit",
    "creak",
    "rattle",
    "squeak",
    "thud",
    "clink",
    "whoosh",
    "bang",
    "snap",
    "crack",
    "pop",
    "thump",
    "clatter",
    "jingle",
    "shuffle",
    "stomp",
    "tap",
    "tick",
    "whir",
    "hum",
    "buzz",
    "drip",
    "gurgle",
    "fizz",
    "hiss",
    "crunch",
    "crumple",
    "flap",
    "flutter",
    "swish",
    "zip",
    "click",
    "clack",
    "clunk",
    "ding",
    "ring",
    "chime",
    "boom",
    "rumble",
    "roar",
    "growl",
    "bark",
    "chirp",
    "tweet",
    "purr",
    "howl",
    "skid",
    "screech",
    "honk",
    "beep",
    "whistle",
    "latch",
    "hinge",
    "handle",
    "lock",
    "key",
    "chain",
    "bottle",
    "plate",
    "cup",
    "spoon",
    "fork",
    "knife",
    "pan",
    "lid",
    "box",
    "crate",
    "barrel",
    "bucket",
    "rope",
    "net",
)
_BULK_ADJECTIVES = (
    "heavy",
    "light",
    "soft",
    "hard",
    "close",
    "distant",
    "fast",
    "slow",
    "short",
    "long",
    "sharp",
    "dull",
    "small",
    "large",
    "old",
    "new",
    "wet",
    "dry",
    "loud",
    "quiet",
)


def make_bulk_library(root: Path, count: int, seed: int = 0) -> list[Path]:
    """`count` tiny WAV files (10 ms, 8 kHz, 16-bit) with varied UCS names in 100 folders:
    the index benchmark's library. Returns their paths."""
    rng = np.random.default_rng(seed)
    header = _tiny_wav_header(80)
    paths = []
    for number in range(count):
        cat_id = _BULK_CATEGORIES[int(rng.integers(len(_BULK_CATEGORIES)))]
        adjective = _BULK_ADJECTIVES[int(rng.integers(len(_BULK_ADJECTIVES)))]
        nouns = " ".join(_BULK_NOUNS[int(i)] for i in rng.integers(len(_BULK_NOUNS), size=2))
        name = f"{adjective} {nouns} {number:05d}".title()
        path = root / f"Folder {number % 100:02d}" / f"{cat_id}_{name}_GEN_Bulk.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        pcm = (rng.standard_normal(80) * 3000).astype("<i2").tobytes()
        path.write_bytes(header + pcm)
        paths.append(path)
    return paths


def _tiny_wav_header(frames: int, rate: int = 8000) -> bytes:
    data_bytes = frames * 2
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


def attack_seconds(library: SyntheticLibrary, path: Path) -> float:
    """The known attack time of one of `library`'s one-shots (seconds into the file)."""
    try:
        return library.one_shots[path]
    except KeyError:
        raise KeyError(f"{path} is not a one-shot of the library at {library.root}") from None
