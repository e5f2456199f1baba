"""The hunyuan engine with a tiny official-layout model, on a Ray actor: same audio as here."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest
from conftest import timeline_over
from ray_support import PLAIN_REQUEST, audio_digests, run_timeline

from plugin_server.engines.registry import EngineConfig, create_engine
from plugin_server.executors import ExecutorSettings, RaySettings
from plugin_server.pipeline.local import LocalRun

pytestmark = [pytest.mark.ray, pytest.mark.slow]

CLIPS = 2
# Two sampler steps in float32: seconds per clip on a CPU, and no half-precision rounding.
TINY_REQUEST = replace(
    PLAIN_REQUEST,
    engine="hunyuan",
    parameters={"diffusion_timesteps": 2, "use_half_precision": False},
)


def test_tiny_model_on_a_ray_actor_makes_the_local_executors_audio(
    ray_cluster: ModuleType, media_dir: Path, tmp_path: Path
) -> None:
    torch = pytest.importorskip("torch")
    from plugin_server.engines.hunyuan.tiny_weights import write_tiny_weights

    weights = write_tiny_weights(tmp_path / "weights").root
    timeline = timeline_over(tmp_path, media_dir, "a.mov", clips=CLIPS)
    config = EngineConfig(weights_dir=weights, device="cpu")
    # Ray gives each actor one thread (OMP_NUM_THREADS=1); the same here, so that the float
    # reductions run in the same order and the audio can be compared bit for bit.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with LocalRun(
            engine_config=config, engine_factory=create_engine, device="cpu", workers=1
        ) as run:
            local = run_timeline(run, timeline, tmp_path / "local", request=TINY_REQUEST)
    finally:
        torch.set_num_threads(threads)
    with LocalRun(
        engine_config=config,
        engine_factory=create_engine,
        device="cpu",
        executor=ExecutorSettings("ray", RaySettings(actors=1)),
    ) as run:
        remote = run_timeline(run, timeline, tmp_path / "ray", request=TINY_REQUEST)

    assert local.summary.clips_generated == remote.summary.clips_generated == CLIPS
    assert {o.report.engine for o in remote.outcomes()} == {"hunyuan"}
    assert all(o.report.parameters["diffusion_timesteps"] == 2 for o in remote.outcomes())
    assert audio_digests(tmp_path / "ray" / "audio") == audio_digests(tmp_path / "local" / "audio")
