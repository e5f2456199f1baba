"""Words as data: which prompt words ask for a bed, how a bed follows the picture, and which
words say nothing about a sound."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class BedConcept:
    """A kind of bed. `words`: prompt or file words naming it. `motion_depth` 0..1: how much
    the bed's level follows motion intensity (0: steady, as room tone must be). `level_db`:
    the bed's RMS in the mix (the procedural engine's beds sit near -25 dBFS, room tone -50)."""

    name: str
    words: frozenset[str]
    motion_depth: float
    level_db: float


BED_CONCEPTS: tuple[BedConcept, ...] = (
    BedConcept("rain", frozenset({"rain", "rainy", "drizzle", "downpour", "rainfall"}), 0.2, -25),
    BedConcept("wind", frozenset({"wind", "windy", "breeze", "gale", "gusts"}), 0.6, -26),
    BedConcept(
        "traffic",
        frozenset({"traffic", "street", "highway", "freeway", "motorway", "city", "urban"}),
        0.5,
        -27,
    ),
    BedConcept(
        "room tone",
        frozenset(
            {
                "room",
                "tone",
                "roomtone",
                "ambience",
                "ambiance",
                "ambient",
                "atmos",
                "atmosphere",
                "background",
                "amb",
            }
        ),
        0.0,
        -45,
    ),
    BedConcept(
        "water", frozenset({"river", "stream", "creek", "waves", "surf", "ocean", "sea"}), 0.3, -27
    ),
    BedConcept("crowd", frozenset({"crowd", "walla", "murmur", "chatter"}), 0.4, -28),
)

BED_WORDS: frozenset[str] = frozenset().union(*(concept.words for concept in BED_CONCEPTS))
# Beds shorter than this cannot be looped with a useful crossfade; such files are one-shots.
MIN_BED_SECONDS = 1.0
# Files at least this long are beds whatever they are called (nobody places a 20 s one-shot).
LONG_FILE_SECONDS = 20.0

STOPWORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "on",
        "in",
        "into",
        "onto",
        "of",
        "off",
        "with",
        "and",
        "or",
        "at",
        "to",
        "from",
        "over",
        "under",
        "by",
        "for",
        "some",
        "sound",
        "sounds",
        "sfx",
        "effect",
        "effects",
        "foley",
        "is",
        "are",
        "its",
        "it",
        "this",
        "that",
        "very",
        "lots",
        "lot",
    }
)


# Adjectives an editor writes for the material a file name states as a noun (the index's
# Porter stemmer keeps "wooden" and "wood" apart).
ALIASES = {
    "wooden": "wood",
    "metallic": "metal",
    "glassy": "glass",
    "stony": "stone",
    "leathery": "leather",
    "plastics": "plastic",
    "papery": "paper",
    "watery": "water",
}


def prompt_words(text: str) -> list[str]:
    """The prompt's content words, lower case, aliases resolved, in order, each once."""
    words = (ALIASES.get(w, w) for w in re.findall(r"[a-z]+", text.lower()))
    return list(dict.fromkeys(w for w in words if w not in STOPWORDS and len(w) > 1))


def bed_concept(words: set[str]) -> BedConcept | None:
    """The first bed concept any of `words` names, or None."""
    for concept in BED_CONCEPTS:
        if concept.words & words:
            return concept
    return None
