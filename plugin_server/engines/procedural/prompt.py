"""Prompt to sound plan: which recipes play, on which surface, how loud.

"rain and thunder on a car roof" -> rain + thunder, material metal. Unknown words never fail:
they are listed in the plan as ignored, and a prompt without any recipe word gets the neutral
recipe. Recipes named in the negative prompt are left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from plugin_server.engines.procedural.vocabulary import (
    LEVEL_WORDS,
    MATERIAL_WORDS,
    PHRASE_MATERIALS,
    PHRASES,
    RECIPE_WORDS,
    STOP_WORDS,
    Choice,
)

NEUTRAL = "neutral"
_LEVEL_RANGE = (0.2, 3.0)


@dataclass(frozen=True)
class Layer:
    """One recipe in the mix; `level` multiplies its designed loudness."""

    recipe: str
    variant: str = ""
    level: float = 1.0

    @property
    def label(self) -> str:
        name = f"{self.recipe}:{self.variant}" if self.variant else self.recipe
        return name if self.level == 1.0 else f"{name}@{self.level:g}"


@dataclass(frozen=True)
class SoundPlan:
    layers: tuple[Layer, ...]
    material: str  # "" when the prompt names no surface
    matched: tuple[str, ...]  # prompt words (or phrases) that chose something
    ignored: tuple[str, ...]  # prompt words found in no table
    removed: tuple[str, ...]  # recipes left out because the negative prompt names them

    @property
    def neutral(self) -> bool:
        return any(layer.recipe == NEUTRAL for layer in self.layers)


def plan_from_prompt(prompt: str, negative_prompt: str = "") -> SoundPlan:
    """Parse `prompt` (any text) into a sound plan; never raises for its content."""
    tokens = _tokens(prompt)
    choices: list[tuple[int, Choice]] = []  # (token position, choice)
    levels: list[tuple[int, float]] = []
    material = ""
    matched: list[str] = []
    ignored: list[str] = []
    position = 0
    while position < len(tokens):
        pair = _phrase(tokens, position)
        if pair is not None:
            choices += [(position + 1, choice) for choice in PHRASES.get(pair, ())]
            material = PHRASE_MATERIALS.get(pair, material)
            matched.append(pair)
            position += 2
            continue
        word = tokens[position]
        position += 1
        if word in STOP_WORDS:
            continue
        found = False
        for form in _forms(word):
            if form in RECIPE_WORDS:
                choices += [(position, choice) for choice in RECIPE_WORDS[form]]
                found = True
            if form in MATERIAL_WORDS:
                material = MATERIAL_WORDS[form]
                found = True
            if form in LEVEL_WORDS:
                levels.append((position, LEVEL_WORDS[form]))
                found = True
            if found:
                break
        (matched if found else ignored).append(word)

    excluded = {recipe for _, (recipe, _) in _negative_choices(negative_prompt)}
    layers = _layers(choices, levels, excluded)
    removed = tuple(sorted(excluded & {recipe for _, (recipe, _) in choices}))
    if not layers:
        layers = (Layer(NEUTRAL),)
    return SoundPlan(
        layers=layers,
        material=material,
        matched=tuple(matched),
        ignored=tuple(ignored),
        removed=removed,
    )


def _layers(
    choices: list[tuple[int, Choice]], levels: list[tuple[int, float]], excluded: set[str]
) -> tuple[Layer, ...]:
    """One layer per recipe, in order of first mention; the first named variant wins, and
    repeated recipes keep the largest level."""
    by_recipe: dict[str, Layer] = {}
    for position, (recipe, variant) in choices:
        if recipe in excluded:
            continue
        level = _level_for(position, choices, levels)
        current = by_recipe.get(recipe)
        if current is None:
            by_recipe[recipe] = Layer(recipe, variant, level)
        else:
            by_recipe[recipe] = Layer(recipe, current.variant or variant, max(current.level, level))
    return tuple(by_recipe.values())


def _level_for(
    position: int, choices: list[tuple[int, Choice]], levels: list[tuple[int, float]]
) -> float:
    """Product of the level words that apply to the recipe word at `position`: those between
    the previous recipe word and this one, or (when no recipe follows them) those after the
    last recipe word."""
    positions = sorted({p for p, _ in choices})
    earlier = [p for p in positions if p < position]
    start = earlier[-1] if earlier else -1
    factor = 1.0
    for level_position, value in levels:
        applies_before = start < level_position < position
        trailing = level_position > positions[-1] and position == positions[-1]
        if applies_before or trailing:
            factor *= value
    return min(max(factor, _LEVEL_RANGE[0]), _LEVEL_RANGE[1])


def _phrase(tokens: list[str], position: int) -> str | None:
    """The known two-word phrase starting at `position` ("slamming doors" -> "slam door")."""
    if position + 1 >= len(tokens):
        return None
    for first in _forms(tokens[position]):
        for second in _forms(tokens[position + 1]):
            pair = f"{first} {second}"
            if pair in PHRASES or pair in PHRASE_MATERIALS:
                return pair
    return None


def _negative_choices(negative_prompt: str) -> list[tuple[int, Choice]]:
    found: list[tuple[int, Choice]] = []
    for index, word in enumerate(_tokens(negative_prompt)):
        for form in _forms(word):
            if form in RECIPE_WORDS:
                found += [(index, choice) for choice in RECIPE_WORDS[form]]
                break
    return found


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def _forms(word: str) -> list[str]:
    """The word, then plausible dictionary forms: plural and -ing/-ed endings removed
    ("splashes" -> "splash", "slamming" -> "slam", "raining" -> "rain", "burning" -> "burn")."""
    forms = [word]
    for suffix in ("ies", "es", "s", "ing", "ed", "er"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[: -len(suffix)]
            forms.append(stem + "y" if suffix == "ies" else stem)
            if suffix in ("ing", "ed", "er"):
                forms.append(stem + "e")
                if len(stem) > 2 and stem[-1] == stem[-2]:
                    forms.append(stem[:-1])
    return forms
