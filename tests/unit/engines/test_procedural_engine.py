"""The procedural engine honours the Engine contract: exact length, peak-safe float32 audio,
bit-identical for the same request, a truthful report, typed errors, cancellation."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from fractions import Fraction

import numpy as np
import pytest

from plugin_server.demo.media import BouncingDisc, SceneFrameSource, WalkingFigure
from plugin_server.engines.base import Cancelled, ClipRequest, EngineError
from plugin_server.engines.procedural import ProceduralEngine
from plugin_server.engines.registry import EngineConfig, create_engine
from plugin_server.media.frames import Frame, FrameSpec

DISC = BouncingDisc(Fraction(24), 48, (14, 30, 44))


def _request(**changes: object) -> ClipRequest:
    fields: dict[str, object] = {
        "clip_id": "clip-1",
        "frames": SceneFrameSource(DISC),
        "duration_s": 2.0,
        "prompt": "footsteps on gravel and wind",
        "seed": 11,
    }
    fields.update(changes)
    return ClipRequest(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def engine() -> ProceduralEngine:
    return ProceduralEngine()


def test_the_registry_builds_it_by_name() -> None:
    engine = create_engine("procedural")
    info = engine.info()
    assert isinstance(engine, ProceduralEngine)
    assert (info.name, info.available, info.device) == ("procedural", True, "cpu")


# Odd durations: 1.001 s, 37 and 1 frames at 23.976 fps, 10 frames at 29.97, sub-frame.
@pytest.mark.parametrize(
    "duration_s", [1.001, 37 * 1001 / 24000, 1001 / 24000, 10 * 1001 / 30000, 0.0123, 2.0]
)
@pytest.mark.parametrize("with_picture", [True, False])
def test_output_has_exactly_the_requested_number_of_samples(
    engine: ProceduralEngine, duration_s: float, with_picture: bool
) -> None:
    frames = SceneFrameSource(DISC) if with_picture else None
    request = _request(duration_s=duration_s, frames=frames)
    audio = engine.generate(request)
    assert audio.samples.shape == (round(duration_s * 48_000),)
    assert audio.samples.dtype == np.float32
    assert audio.sample_rate == 48_000


@pytest.mark.parametrize("source_duration_s", [0.5, 6.0])
def test_length_does_not_depend_on_how_many_frames_the_source_yields(
    engine: ProceduralEngine, source_duration_s: float
) -> None:
    # The source runs out early (truncated media) or yields frames past the clip's end.
    source = SceneFrameSource(WalkingFigure(Fraction(25), 150, (10, 25)), source_duration_s)
    audio = engine.generate(_request(frames=source, duration_s=3.0))
    assert audio.samples.shape == (144_000,)


def test_other_sample_rates_keep_the_exact_length(engine: ProceduralEngine) -> None:
    audio = engine.generate(_request(sample_rate=44_100, duration_s=1.001))
    assert audio.samples.shape == (round(1.001 * 44_100),)
    assert audio.sample_rate == 44_100


def test_audio_is_peak_safe_even_for_a_loud_mix(engine: ProceduralEngine) -> None:
    request = _request(prompt="huge violent storm, loud crash, heavy rain, strong wind")
    samples = engine.generate(request).samples
    assert np.all(np.isfinite(samples))
    assert 0.5 < np.max(np.abs(samples)) <= 0.8913  # driven into the limiter, never past -1 dBFS


def test_same_request_gives_bit_identical_audio(engine: ProceduralEngine) -> None:
    first = engine.generate(_request(prompt="rain and thunder on a car roof, footsteps"))
    second = ProceduralEngine().generate(
        _request(prompt="rain and thunder on a car roof, footsteps")
    )
    assert first.samples.tobytes() == second.samples.tobytes()


@pytest.mark.parametrize("change", [{"seed": 12}, {"clip_id": "clip-2"}])
def test_another_seed_or_clip_gives_different_audio(
    engine: ProceduralEngine, change: dict[str, object]
) -> None:
    base = engine.generate(_request()).samples
    other = engine.generate(_request(**change)).samples
    assert not np.array_equal(base, other)
    assert np.mean((base - other) ** 2) > 0.1 * np.mean(base**2)


def test_report_says_procedural_with_the_parameters_used(engine: ProceduralEngine) -> None:
    report = engine.generate(_request()).report
    assert report.engine == "procedural"
    assert report.model == "procedural-dsp-2"
    assert report.parameters["recipes"] == ["footsteps", "wind"]
    assert report.parameters["material"] == "gravel"
    assert report.parameters["seed"] == 11
    assert report.parameters["onset_count"] == 3
    assert report.parameters["frames_analysed"] == 48
    assert set(report.stage_seconds) == {"analysis", "synthesis"}
    assert all(seconds > 0 for seconds in report.stage_seconds.values())
    # Two seconds of float32 audio alone are 384 kB; the analysis keeps only small frames.
    assert 384_000 <= report.peak_memory_bytes < 200_000_000


def test_without_picture_it_makes_a_prompt_driven_bed(engine: ProceduralEngine) -> None:
    audio = engine.generate(_request(frames=None, prompt="rain", duration_s=3.0))
    samples = audio.samples
    assert samples.shape == (144_000,)
    quarters = samples.reshape(4, -1)
    assert np.all(np.sqrt(np.mean(quarters**2, axis=1)) > 0.02)  # rain all along
    assert audio.report.parameters["has_picture"] is False
    assert any("no picture" in note for note in audio.report.notes)


@pytest.mark.parametrize(
    ("duration_s", "words"),
    [
        (0.0, "positive"),
        (-1.0, "positive"),
        (math.nan, "finite"),
        (math.inf, "finite"),
        (5 * 3600.0, "4 h limit"),
        (1e-6, "shorter than one sample"),
    ],
)
def test_bad_durations_are_refused_with_a_clear_message(
    engine: ProceduralEngine, duration_s: float, words: str
) -> None:
    with pytest.raises(EngineError, match=words) as caught:
        engine.generate(_request(duration_s=duration_s))
    assert "clip-1" in str(caught.value)


def test_bad_sample_rate_is_refused(engine: ProceduralEngine) -> None:
    with pytest.raises(EngineError, match="sample_rate"):
        engine.generate(_request(sample_rate=0))


class _WrongShapeSource:
    record_duration_s = 1.0

    def stream(self, specs: Sequence[FrameSpec]) -> Iterator[Frame]:
        for index in range(24):
            pixels = np.zeros((specs[0].height, specs[0].width, 3), np.uint8)
            yield Frame(0, index, index / 24, pixels)


def test_a_source_returning_the_wrong_frames_is_a_typed_error(engine: ProceduralEngine) -> None:
    with pytest.raises(EngineError, match=r"clip 'clip-1'.*grey 128x72"):
        engine.generate(_request(frames=_WrongShapeSource(), duration_s=1.0))


def test_options_of_its_own_are_checked_and_others_ignored() -> None:
    ProceduralEngine(EngineConfig(options={"model_size": "xl", "procedural_analysis_fps": 30}))
    with pytest.raises(EngineError, match="procedural_analyse_fps"):
        ProceduralEngine(EngineConfig(options={"procedural_analyse_fps": 30}))
    with pytest.raises(EngineError, match="between 12 and 240"):
        ProceduralEngine(EngineConfig(options={"procedural_analysis_fps": 1000}))


def test_cancel_before_start_raises_cancelled(engine: ProceduralEngine) -> None:
    token = threading.Event()
    token.set()
    with pytest.raises(Cancelled, match="clip-1"):
        engine.generate(_request(), cancel=token)


class _CancellingSource(SceneFrameSource):
    """Sets the token after `after` frames, like a client hanging up mid-clip."""

    def __init__(self, token: threading.Event, after: int) -> None:
        super().__init__(DISC)
        self.token = token
        self.after = after
        self.yielded = 0

    def stream(self, specs: Sequence[FrameSpec]) -> Iterator[Frame]:
        for frame in super().stream(specs):
            self.yielded += 1
            if self.yielded == self.after:
                self.token.set()
            yield frame


def test_cancel_during_analysis_stops_before_another_frame_is_read(
    engine: ProceduralEngine,
) -> None:
    token = threading.Event()
    source = _CancellingSource(token, after=10)
    with pytest.raises(Cancelled, match="analysis"):
        engine.generate(_request(frames=source), cancel=token)
    assert source.yielded == 10  # the frame in hand when the token was set is the last


def test_cancel_during_synthesis_stops_between_layers(engine: ProceduralEngine) -> None:
    token = threading.Event()
    stages: list[tuple[str, float]] = []

    def progress(stage: str, percent: float) -> None:
        stages.append((stage, percent))
        if stage == "synthesis" and percent > 0:
            token.set()  # after the first of the two layers

    with pytest.raises(Cancelled, match="synthesis"):
        engine.generate(_request(), progress=progress, cancel=token)
    assert stages[-1] == ("synthesis", 50.0)


def test_progress_goes_through_both_stages_in_order(engine: ProceduralEngine) -> None:
    stages: list[tuple[str, float]] = []
    engine.generate(_request(), progress=lambda stage, percent: stages.append((stage, percent)))
    names = [stage for stage, _ in stages]
    assert names.index("synthesis") > max(i for i, n in enumerate(names) if n == "analysis")
    assert stages[-1] == ("synthesis", 100.0)
    for name in ("analysis", "synthesis"):
        percents = [percent for stage, percent in stages if stage == name]
        assert percents == sorted(percents) and percents[-1] == 100.0
