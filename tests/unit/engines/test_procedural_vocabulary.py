"""The words editors ask for resolve to real recipes, and each new recipe sounds like its
words: measured on the engine's output (no picture: each recipe's own cadence)."""

from __future__ import annotations

import numpy as np
import pytest
from engine_audio_checks import band_energy, fundamental, spectral_centroid, windowed_rms_db

from plugin_server.engines.base import ClipRequest
from plugin_server.engines.procedural import ProceduralEngine
from plugin_server.engines.procedural.prompt import plan_from_prompt

SR = 48_000


def _samples(prompt: str, duration_s: float = 3.0) -> np.ndarray:
    request = ClipRequest("words", None, duration_s, prompt=prompt, seed=2)
    return ProceduralEngine().generate(request).samples.astype(np.float64)


@pytest.mark.parametrize(
    ("prompt", "recipes", "material"),
    [
        ("boots on a wooden floor", ["footsteps"], "wood"),
        ("a dog barking", ["animal:bark"], ""),
        ("a cat meowing", ["animal:meow"], ""),
        ("birds chirping", ["animal:birds"], ""),
        ("horse hooves on cobblestones", ["animal:hooves"], "stone"),
        ("a train", ["vehicle:train"], ""),
        ("a plane", ["vehicle:plane"], ""),
        ("riding a bicycle", ["vehicle:bicycle"], ""),
        ("cloth rustling", ["rustle:cloth"], ""),
        ("paper crumpling", ["rustle:paper"], ""),
        ("metal clang", ["impact:hit"], "metal"),
        ("pouring liquid", ["water:stream"], ""),
        ("phone beeping", ["electronics:beep"], ""),
        ("electrical hum", ["electronics:hum"], ""),
        ("typing on a keyboard", ["electronics:typing"], ""),
        ("washing dishes", ["glass:clink", "water:stream"], ""),
        ("opening a drawer", ["door"], ""),
    ],
)
def test_editors_words_resolve_to_recipes(prompt: str, recipes: list[str], material: str) -> None:
    plan = plan_from_prompt(prompt)
    assert [layer.label for layer in plan.layers] == recipes
    assert plan.material == material
    assert not plan.neutral


def test_a_bark_is_a_short_harmonic_burst_in_the_voice_band() -> None:
    samples = _samples("a dog barking")
    levels = windowed_rms_db(samples, SR, 0.02)
    loud = levels > levels.max() - 20
    assert 0.05 < loud.mean() < 0.6  # bursts with silence between them
    assert 500 < spectral_centroid(samples, SR) < 2500
    burst = samples[int(np.argmax(np.abs(samples))) :][: int(0.1 * SR)]
    assert 200 < fundamental(burst, SR, 200, 600) < 520


def test_a_meow_rises_into_the_cat_pitch_range() -> None:
    samples = _samples("a cat meowing")
    start = int(np.argmax(np.abs(samples)))
    assert 480 < fundamental(samples[start - SR // 10 : start + SR // 10], SR, 400, 1000) < 950


def test_birdsong_is_high_whistles() -> None:
    samples = _samples("birds chirping", 4.0)
    assert band_energy(samples, SR, 1800, 6500) > 0.9 * band_energy(samples, SR, 0, 24_000)


def test_hooves_beat_in_a_four_beat_gait() -> None:
    samples = _samples("horse hooves", 4.0)
    levels = windowed_rms_db(samples, SR, 0.01)
    beats = np.flatnonzero((levels[1:] > levels.max() - 12) & (levels[:-1] <= levels.max() - 12))
    assert 10 <= len(beats) <= 17  # 4 beats per 1.1 s stride over 4 s


def test_the_train_clacks_and_the_plane_roars_higher() -> None:
    train = _samples("a train", 4.0)
    plane = _samples("a plane", 4.0)
    # Firing 14 Hz at rest to 40 at full motion (no picture: a medium, wandering motion).
    assert 14 <= fundamental(train, SR, 8, 60) <= 40
    assert spectral_centroid(plane, SR) > 1.5 * spectral_centroid(train, SR)


def test_a_bicycle_ticks_brightly_without_an_engine() -> None:
    samples = _samples("riding a bicycle")
    assert band_energy(samples, SR, 0, 100) < 0.05 * band_energy(samples, SR, 0, 24_000)
    assert spectral_centroid(samples, SR) > 1500


def test_cloth_is_dull_and_paper_is_crisp() -> None:
    cloth = _samples("cloth rustling")
    paper = _samples("paper crumpling")
    assert 300 < spectral_centroid(cloth, SR) < 2500
    assert spectral_centroid(paper, SR) > 2 * spectral_centroid(cloth, SR)
    high = np.diff(paper)
    assert np.mean(high**4) / np.mean(high**2) ** 2 > 6  # clicks, not a smooth hiss


def test_a_beep_is_a_pure_1_khz_tone() -> None:
    samples = _samples("phone beeping")
    assert band_energy(samples, SR, 950, 1050) > 0.95 * band_energy(samples, SR, 0, 24_000)


def test_hum_is_mains_frequency_and_steady() -> None:
    samples = _samples("electrical hum")
    assert 49 <= fundamental(samples, SR, 40, 70) <= 51
    levels = windowed_rms_db(samples, SR, 0.25)
    assert levels.max() - levels.min() < 1.0


def test_typing_is_a_stream_of_bright_clicks() -> None:
    samples = _samples("typing on a keyboard", 4.0)
    levels = windowed_rms_db(samples, SR, 0.005)
    keys = np.flatnonzero((levels[1:] > levels.max() - 15) & (levels[:-1] <= levels.max() - 15))
    assert 12 <= len(keys) <= 60  # a typist's 6-9 keys a second, key-up clicks included
    assert spectral_centroid(samples, SR) > 1500
