"""Image sequences: a printf-style pattern (`shot_%04d.png`), a hash pattern (`shot.####.dpx`),
or a folder holding one run of numbered frames.

Frame number n plays at media time (n - first) / fps: the first frame found is media time 0.
A missing number is a gap in the sequence, and the previous frame stays on screen through it, as
editors show a sequence with a missing frame. An image sequence carries no rate of its own, so
the caller passes one (24 fps unless told).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

from plugin_server.media.errors import InvalidRange, MediaNotFound, UnreadableMedia

DEFAULT_SEQUENCE_FPS = Fraction(24)

IMAGE_SUFFIXES = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".tif",
        ".tiff",
        ".dpx",
        ".exr",
        ".bmp",
        ".tga",
        ".webp",
        ".pgm",
        ".ppm",
        ".j2k",
        ".jp2",
    }
)

_PRINTF = re.compile(r"%0?(\d*)d")
_HASHES = re.compile(r"#+")
_NUMBERED = re.compile(r"^(.*?)(\d+)(\.[A-Za-z0-9]+)$")


@dataclass(frozen=True)
class ImageSequence:
    """Numbered image files, in frame-number order, played at `fps`."""

    source: Path  # the pattern or folder the caller gave
    files: tuple[Path, ...]
    numbers: tuple[int, ...]  # frame number of each file, strictly increasing
    fps: Fraction

    @property
    def first_number(self) -> int:
        return self.numbers[0]

    def time_of(self, position: int) -> Fraction:
        """Media time in seconds of `files[position]`."""
        return (self.numbers[position] - self.first_number) / self.fps

    @property
    def duration(self) -> Fraction:
        """Seconds from the first frame to the end of the last one."""
        return (self.numbers[-1] - self.first_number + 1) / self.fps


def looks_like_sequence(path: Path) -> bool:
    """Whether `path` names an image sequence rather than one media file (an existing file
    named like a pattern, "take#2.mov", is a file)."""
    if path.is_file():
        return False
    name = path.name
    return path.is_dir() or bool(_PRINTF.search(name)) or bool(_HASHES.search(name))


def open_sequence(path: Path, fps: Fraction = DEFAULT_SEQUENCE_FPS) -> ImageSequence:
    """Find the frames of the sequence `path` names (pattern or folder).

    Raises MediaNotFound when no frame exists, InvalidRange for a rate that is not positive.
    """
    if fps <= 0:
        raise InvalidRange(f"image sequence {path}: frame rate {fps} must be positive", path)
    if path.is_dir():
        numbered = _numbered_frames_in_folder(path)
    else:
        numbered = _numbered_frames_for_pattern(path)
    if not numbered:
        raise MediaNotFound(
            f"image sequence {path}: no numbered frames found; give a pattern such as "
            "shot_%04d.png or a folder of numbered images",
            path,
        )
    numbered.sort()
    for (number, file), (next_number, next_file) in pairwise(numbered):
        if number == next_number:
            raise UnreadableMedia(
                f"image sequence {path}: {file.name} and {next_file.name} are both frame "
                f"{number}; keep one of them",
                path,
            )
    return ImageSequence(
        source=path,
        files=tuple(file for _, file in numbered),
        numbers=tuple(number for number, _ in numbered),
        fps=Fraction(fps),
    )


def _numbered_frames_for_pattern(pattern: Path) -> list[tuple[int, Path]]:
    name = _HASHES.sub(lambda m: f"%0{len(m.group(0))}d", pattern.name)
    match = _PRINTF.search(name)
    if match is None:
        return []
    width = int(match.group(1) or 0)
    digits = rf"\d{{{width}}}" if width > 1 else r"\d+"
    regex = re.compile(
        re.escape(name[: match.start()]) + f"({digits})" + re.escape(name[match.end() :]) + "$"
    )
    folder = pattern.parent
    if not folder.is_dir():
        return []
    found = []
    for file in folder.iterdir():
        hit = regex.match(file.name)
        if hit is not None and file.is_file():
            found.append((int(hit.group(1)), file))
    return found


def _numbered_frames_in_folder(folder: Path) -> list[tuple[int, Path]]:
    runs: dict[tuple[str, str], list[tuple[int, Path]]] = {}
    for file in folder.iterdir():
        hit = _NUMBERED.match(file.name)
        if hit is None or hit.group(3).lower() not in IMAGE_SUFFIXES or not file.is_file():
            continue
        prefix, number, suffix = hit.groups()
        runs.setdefault((prefix, suffix), []).append((int(number), file))
    if not runs:
        return []
    ordered = sorted(runs.items(), key=lambda item: len(item[1]), reverse=True)
    if len(ordered) > 1 and len(ordered[0][1]) == len(ordered[1][1]):
        (prefix_a, suffix_a), (prefix_b, suffix_b) = ordered[0][0], ordered[1][0]
        raise MediaNotFound(
            f"image sequence folder {folder} holds two runs of numbered frames of the same "
            f"length ({prefix_a}#{suffix_a} and {prefix_b}#{suffix_b}); give a pattern such as "
            f"{folder / (prefix_a + '%04d' + suffix_a)}",
            folder,
        )
    return ordered[0][1]
