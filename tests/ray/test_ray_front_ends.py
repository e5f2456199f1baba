"""The two front ends on Ray: `foley-server generate --executor ray`, and the gRPC server, whose
stream and results do not change when its clips run on Ray actors."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from conftest import CLIPS
from ray_support import PLAIN_REQUEST, audio_digests

from plugin_server import cli
from plugin_server.client import FoleyClient, GenerateOptions
from plugin_server.engines.registry import EngineConfig, create_engine
from plugin_server.executors import ExecutorSettings, ExecutorUnavailable, RaySettings
from plugin_server.pipeline.local import LocalRun
from plugin_server.server.app import FoleyServer
from plugin_server.server.config import ServerConfig

pytestmark = pytest.mark.ray


@pytest.mark.slow
def test_generate_command_runs_its_clips_on_ray_actors(
    ray_cluster: ModuleType,
    many_clips: Path,
    local_digests: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    output = tmp_path / "cut_foley.otio"
    code = cli.main([
        "generate", str(many_clips), "-o", str(output), "--quiet", "--device", "cpu",
        "--prompt", PLAIN_REQUEST.prompt, "--seed", str(PLAIN_REQUEST.seed),
        "--executor", "ray", "--ray-actors", "2",
    ])  # fmt: skip

    assert code == 0
    assert f"{CLIPS} generated" in capsys.readouterr().out
    assert audio_digests(tmp_path / "cut_foley_audio") == local_digests
    assert output.is_file()


@pytest.mark.slow
def test_grpc_server_streams_results_made_by_ray_actors_on_shared_storage(
    ray_cluster: ModuleType,
    media_dir: Path,
    many_clips: Path,
    local_digests: dict[str, str],
    tmp_path: Path,
) -> None:
    config = ServerConfig(
        media_roots=(media_dir, many_clips.parent),
        work_dir=tmp_path / "work",  # one machine: the work dir is shared with the actors
        port=0,
        device="cpu",
        executor=ExecutorSettings("ray", RaySettings(actors=2, results="shared-storage")),
    )
    server = FoleyServer(config)
    server.start()
    try:
        with FoleyClient(server.address) as client:
            client.wait_until_ready()
            capabilities = client.capabilities()
            events: list[object] = []
            result = client.generate(
                many_clips,
                tmp_path / "client" / "result.otio",
                GenerateOptions(prompt=PLAIN_REQUEST.prompt, seed=PLAIN_REQUEST.seed),
                on_event=events.append,
            )
    finally:
        server.stop(grace_s=5.0)

    assert capabilities.limits.workers == 2
    assert len(capabilities.devices) == 2
    assert all("Ray node" in device.description for device in capabilities.devices)
    assert result.summary.clips_generated == CLIPS
    assert result.summary.clips_failed == 0
    assert len(result.audio_files) == CLIPS
    for audio in result.audio_files.values():
        assert audio.path.parent == tmp_path / "client" / "result_audio"
        assert any(note.startswith("generated on Ray actor") for note in audio.report.notes)
    # Streamed one message per clip result at least, as the clips finished.
    assert len(events) > CLIPS
    # The client names the files as the server does; the audio is the local executor's.
    assert audio_digests(tmp_path / "client" / "result_audio") == local_digests


def test_gpu_actors_on_a_cluster_without_gpus_are_refused(
    ray_cluster: ModuleType, tmp_path: Path
) -> None:
    with pytest.raises(ExecutorUnavailable, match="--device cuda: the Ray cluster has no GPU"):
        LocalRun(
            engine_config=EngineConfig(),
            engine_factory=create_engine,
            device="cuda",
            executor=ExecutorSettings("ray", RaySettings(actors=1)),
        )
