"""Several clients at once, and admission control when the server is full."""

from __future__ import annotations

import threading
from pathlib import Path

import grpc
import pytest
from e2e_support import TIMELINES, many_clip_timeline

from plugin_server.client import FoleyClient, FoleyClientError, GenerateResult

pytestmark = pytest.mark.slow


def test_concurrent_clients_all_get_their_own_results(start_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = start_server(workers=2)
    names = ["simple_cut.otio", "premiere_example.xml", "transitions.aaf", "simple_cut.otio"]
    results: dict[int, GenerateResult] = {}
    errors: list[BaseException] = []

    def run(index: int, name: str) -> None:
        try:
            with FoleyClient(server.address) as client:
                results[index] = client.generate(
                    TIMELINES / name, tmp_path / f"client{index}" / f"out{Path(name).suffix}"
                )
        except BaseException as error:  # re-raised in the test thread below
            errors.append(error)

    threads = [threading.Thread(target=run, args=item) for item in enumerate(names)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    # premiere_example.xml: 8 with the 2 clips of its nested sequence (read since issue 12).
    expected_clips = {"simple_cut.otio": 4, "premiere_example.xml": 8, "transitions.aaf": 4}
    job_ids = set()
    for index, name in enumerate(names):
        result = results[index]
        job_ids.add(result.job_id)
        assert result.summary.clips_generated + result.summary.clips_cached == expected_clips[name]
        assert result.summary.clips_failed == 0
        assert all(
            audio.path.parent.parent == tmp_path / f"client{index}"
            for audio in result.audio_files.values()
        )
    assert len(job_ids) == len(names)


def test_a_full_server_answers_resource_exhausted_with_a_retry_hint(
    start_server,
    media_root: Path,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    server = start_server(max_jobs=1)
    job = media_root / "busy.otio"
    job.write_bytes(many_clip_timeline("file:///x/long.mov", 40, clip_frames=48))
    accepted = threading.Event()
    release = threading.Event()

    def hold_the_only_slot() -> None:
        def on_event(event) -> None:  # type: ignore[no-untyped-def]
            if event.WhichOneof("event") == "accepted":
                accepted.set()
                release.wait(30)

        with FoleyClient(server.address) as client:
            client.generate(job, tmp_path / "first.otio", on_event=on_event)

    first = threading.Thread(target=hold_the_only_slot)
    first.start()
    try:
        assert accepted.wait(30)
        with FoleyClient(server.address) as client, pytest.raises(FoleyClientError) as refused:
            client.generate(TIMELINES / "simple_cut.otio", tmp_path / "second.otio")
        assert refused.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert refused.value.retry_after_s is not None and refused.value.retry_after_s >= 0.5
        assert "busy" in str(refused.value)
    finally:
        release.set()
        first.join(120)
    # Once the slot is free the same request goes through; retries honour the hint.
    with FoleyClient(server.address) as client:
        result = client.generate(
            TIMELINES / "simple_cut.otio", tmp_path / "third.otio", busy_retries=3
        )
    assert result.summary.clips_generated + result.summary.clips_cached == 4
