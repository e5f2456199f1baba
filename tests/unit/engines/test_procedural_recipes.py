"""Each recipe sounds like what its words promise: measured on the engine's output."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from engine_audio_checks import (
    band_energy,
    fundamental,
    rms_db,
    spectral_centroid,
    third_octave_levels,
    transient_onsets,
    windowed_rms_db,
)

from plugin_server.demo.media import (
    BouncingDisc,
    Scene,
    SceneFrameSource,
    WalkingFigure,
    event_times_s,
)
from plugin_server.engines.base import ClipAudio, ClipRequest
from plugin_server.engines.procedural import ProceduralEngine

SR = 48_000
FPS = Fraction(24)


class StillAfter:
    """A scene that freezes on frame `still_from`: motion, then none."""

    def __init__(self, scene: WalkingFigure, still_from: int) -> None:
        self.fps = scene.fps
        self.num_frames = scene.num_frames
        self.event_frames = tuple(f for f in scene.event_frames if f < still_from)
        self._scene = scene
        self._still_from = still_from

    def render(self, index: int, width: int, height: int) -> np.ndarray:
        return self._scene.render(min(index, self._still_from), width, height)


WALK_THEN_STILL = StillAfter(WalkingFigure(FPS, 96, (10, 22, 34)), still_from=44)


@pytest.fixture(scope="module")
def engine() -> ProceduralEngine:
    return ProceduralEngine()


def _audio(
    engine: ProceduralEngine, prompt: str, scene: Scene | None = None, duration_s: float = 3.0
) -> ClipAudio:
    frames = None if scene is None else SceneFrameSource(scene)
    request = ClipRequest("recipe", frames, duration_s, prompt=prompt, seed=5)
    return engine.generate(request)


def test_rain_is_broadband(engine: ProceduralEngine) -> None:
    samples = _audio(engine, "rain").samples
    bands = third_octave_levels(samples, SR, 500, 10_000)
    # Energy in every third octave from 0.5 to 10 kHz (white noise spans 13 dB there).
    assert np.all(bands > bands.max() - 20)
    wind = third_octave_levels(_audio(engine, "wind").samples, SR, 500, 10_000)
    assert np.any(wind < wind.max() - 20)  # (a bed that is not broadband fails the same test)


def test_rain_on_a_car_roof_rings_lower_than_rain_on_the_ground(engine: ProceduralEngine) -> None:
    roof = _audio(engine, "rain and thunder on a car roof")
    ground = _audio(engine, "rain")
    assert roof.report.parameters["recipes"] == ["rain", "thunder"]
    assert roof.report.parameters["material"] == "metal"
    assert spectral_centroid(roof.samples, SR) < 0.7 * spectral_centroid(ground.samples, SR)


def test_engine_pitch_follows_the_motion(engine: ProceduralEngine) -> None:
    audio = _audio(engine, "car engine", WALK_THEN_STILL, duration_s=4.0)
    moving = audio.samples[int(0.4 * SR) : int(1.6 * SR)]
    still = audio.samples[int(2.6 * SR) : int(3.8 * SR)]
    moving_hz = fundamental(moving, SR, 20, 150)
    still_hz = fundamental(still, SR, 20, 150)
    assert 26 <= still_hz <= 32  # idle firing rate, 28 Hz
    assert moving_hz > 1.4 * still_hz


def test_footsteps_land_on_the_steps_and_sound_like_their_surface(
    engine: ProceduralEngine,
) -> None:
    scene = WalkingFigure(FPS, 72, (10, 22, 34, 46, 58))
    gravel = _audio(engine, "footsteps on gravel", scene).samples
    carpet = _audio(engine, "footsteps on carpet", scene).samples
    onsets = transient_onsets(gravel, SR, hold_s=0.15)
    assert np.allclose(onsets, event_times_s(scene), atol=1 / 24)
    assert spectral_centroid(gravel, SR) > 2 * spectral_centroid(carpet, SR)


def _ring_time_s(samples: np.ndarray) -> float:
    """Seconds from the loudest 1 ms block until the level stays 40 dB below it."""
    levels = windowed_rms_db(samples, SR, 0.001)
    peak = int(np.argmax(levels))
    loud = np.flatnonzero(levels[peak:] > levels[peak] - 40)
    return float(loud[-1] / 1000)


def test_metal_rings_longer_than_wood(engine: ProceduralEngine) -> None:
    scene = BouncingDisc(FPS, 72, (30,))  # one hit at 1.25 s
    metal = _audio(engine, "hit on metal", scene).samples
    wood = _audio(engine, "hit on wood", scene).samples
    assert _ring_time_s(metal) > 3 * _ring_time_s(wood)


def test_glass_is_high_and_thunder_is_low(engine: ProceduralEngine) -> None:
    glass = _audio(engine, "glass clink").samples
    thunder = _audio(engine, "thunder", duration_s=5.0).samples
    assert spectral_centroid(glass, SR) > 2000
    assert band_energy(thunder, SR, 0, 300) > 0.8 * band_energy(thunder, SR, 0, 24_000)


def test_wind_is_low_and_gusty(engine: ProceduralEngine) -> None:
    samples = _audio(engine, "wind", duration_s=8.0).samples
    assert band_energy(samples, SR, 0, 1000) > 0.7 * band_energy(samples, SR, 0, 24_000)
    levels = windowed_rms_db(samples, SR, 0.25)
    assert levels.max() - levels.min() > 3  # gusts


def test_room_tone_is_quiet_and_steady(engine: ProceduralEngine) -> None:
    samples = _audio(engine, "room tone", WALK_THEN_STILL).samples
    assert -60 < rms_db(samples) < -40
    levels = windowed_rms_db(samples, SR, 0.25)
    assert levels.max() - levels.min() < 2  # it does not pump with the walking


def test_whoosh_and_crowd_swell_with_motion(engine: ProceduralEngine) -> None:
    for prompt, contrast_db in (("whoosh", 15), ("crowd cheering", 4)):
        samples = _audio(engine, prompt, WALK_THEN_STILL, duration_s=4.0).samples
        moving = rms_db(samples[int(0.3 * SR) : int(1.6 * SR)])
        still = rms_db(samples[int(2.6 * SR) : int(3.9 * SR)])
        assert moving > still + contrast_db, prompt


def test_crowd_sits_in_the_speech_band(engine: ProceduralEngine) -> None:
    samples = _audio(engine, "crowd murmur").samples
    assert band_energy(samples, SR, 150, 4000) > 0.85 * band_energy(samples, SR, 0, 24_000)


def test_fire_crackles(engine: ProceduralEngine) -> None:
    samples = _audio(engine, "fire").samples.astype(np.float64)
    high = np.diff(samples)  # emphasises the clicks over the roar
    kurtosis = np.mean(high**4) / np.mean(high**2) ** 2
    assert kurtosis > 10  # a Gaussian bed would be 3


def test_water_babbles_in_the_bubble_range(engine: ProceduralEngine) -> None:
    samples = _audio(engine, "water stream").samples
    assert 300 < spectral_centroid(samples, SR) < 3000
    assert band_energy(samples, SR, 300, 3000) > 0.5 * band_energy(samples, SR, 0, 24_000)


@pytest.mark.parametrize("prompt", ["door", "glass breaking", "punch", "splash", "applause"])
def test_event_recipes_sound_at_the_visual_events(engine: ProceduralEngine, prompt: str) -> None:
    scene = BouncingDisc(FPS, 72, (20, 41, 60))
    samples = _audio(engine, prompt, scene).samples
    if prompt == "applause":  # a bed: claps everywhere, but never silent
        assert np.all(windowed_rms_db(samples, SR, 0.5) > -45)
        return
    # Ringing materials leave a tail under the next event (a shatter's shards last 0.9 s, the
    # hits are 0.875 s apart): a 6 dB rise is a new event.
    onsets = transient_onsets(samples, SR, rise_db=6, hold_s=0.3)
    for impact in event_times_s(scene):
        assert np.min(np.abs(onsets - impact)) <= 1 / 24, (prompt, onsets)


def test_unknown_words_fall_back_to_the_neutral_recipe(engine: ProceduralEngine) -> None:
    scene = BouncingDisc(FPS, 72, (20, 41, 60))
    audio = _audio(engine, "xyzzy quux", scene)
    assert audio.report.parameters["recipes"] == ["neutral"]
    assert audio.report.parameters["ignored_words"] == ["xyzzy", "quux"]
    assert any("neutral" in note for note in audio.report.notes)
    # The movement rustle under the soft thuds is loud just before each hit: a 9 dB rise.
    onsets = transient_onsets(audio.samples, SR, rise_db=9)
    onsets = onsets[onsets > 0.05]  # the room tone starting from digital silence
    assert np.allclose(onsets, event_times_s(scene), atol=1 / 24)


def test_level_words_and_the_negative_prompt_shape_the_mix(engine: ProceduralEngine) -> None:
    heavy = _audio(engine, "heavy rain").samples
    light = _audio(engine, "light rain").samples
    assert rms_db(heavy) > rms_db(light) + 6
    request = ClipRequest("recipe", None, 1.0, prompt="rain and wind", negative_prompt="wind")
    report = engine.generate(request).report
    assert report.parameters["recipes"] == ["rain"]
    assert report.parameters["removed_recipes"] == ["wind"]
