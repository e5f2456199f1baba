"""Prompt to sound plan: words to recipes, surfaces and levels, never an error."""

from __future__ import annotations

import pytest

from plugin_server.engines.procedural.prompt import plan_from_prompt
from plugin_server.engines.procedural.recipes import RECIPES
from plugin_server.engines.procedural.vocabulary import PHRASES, RECIPE_WORDS


@pytest.mark.parametrize(
    ("prompt", "recipes", "material"),
    [
        ("rain and thunder on a car roof", ["rain", "thunder"], "metal"),
        ("Footsteps on gravel", ["footsteps"], "gravel"),
        ("someone running across the street", ["footsteps:run"], "stone"),
        ("glass breaking", ["glass:shatter"], ""),
        ("slamming doors", ["door"], ""),
        ("storm", ["rain:heavy", "wind:strong", "thunder"], ""),
        ("crowd cheering", ["crowd:cheer"], ""),
        ("a truck engine idling", ["vehicle:truck"], ""),
        ("splashes in puddles", ["water:splash"], "water"),
        ("fire crackling in the fireplace", ["fire"], ""),
        ("sword whoosh", ["whoosh", "impact:hit"], ""),
        ("room tone", ["room_tone"], ""),
        ("punch", ["impact:punch"], ""),
    ],
)
def test_words_choose_recipes_and_surfaces(prompt: str, recipes: list[str], material: str) -> None:
    plan = plan_from_prompt(prompt)
    assert [layer.label for layer in plan.layers] == recipes
    assert plan.material == material
    assert not plan.ignored


def test_level_words_apply_to_the_recipe_they_describe() -> None:
    plan = plan_from_prompt("heavy rain and light footsteps, wind, distant")
    assert [layer.label for layer in plan.layers] == ["rain@1.5", "footsteps@0.6", "wind@0.4"]


@pytest.mark.parametrize("prompt", ["", "   ", "xyzzy flibber", "!!! 123 ???", "the a of"])
def test_a_prompt_without_sound_words_gets_the_neutral_recipe(prompt: str) -> None:
    plan = plan_from_prompt(prompt)
    assert [layer.recipe for layer in plan.layers] == ["neutral"]
    assert plan.neutral


def test_unknown_words_are_reported_not_fatal() -> None:
    plan = plan_from_prompt("rain on a zorblat")
    assert [layer.recipe for layer in plan.layers] == ["rain"]
    assert plan.ignored == ("zorblat",)


def test_negative_prompt_removes_recipes() -> None:
    plan = plan_from_prompt("rain, wind and footsteps", "no wind, noisy, harsh")
    assert [layer.recipe for layer in plan.layers] == ["rain", "footsteps"]
    assert plan.removed == ("wind",)


def test_every_word_in_the_vocabulary_names_a_real_recipe() -> None:
    for table in (RECIPE_WORDS, PHRASES):
        for word, choices in table.items():
            for recipe, _ in choices:
                assert recipe in RECIPES, word
