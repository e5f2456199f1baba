"""The stage meter measures each stage's own peak, net of what was resident before."""

from __future__ import annotations

import torch

from plugin_server.planning.measure import StageMeter

MIB = 1024**2


def _hold(mebibytes: int) -> torch.Tensor:
    # ones() touches every page, so the memory is really resident.
    return torch.ones(mebibytes * MIB // 4, dtype=torch.float32)


def test_each_stage_reports_its_own_peak_and_time() -> None:
    meter = StageMeter("cpu")
    meter.start()
    meter.progress("big", 0.0)
    big = _hold(96)
    del big
    meter.progress("big", 50.0)  # same stage: nothing closes
    meter.progress("small", 0.0)
    small = _hold(24)
    meter.progress("both", 0.0)
    both = _hold(48)
    stages = meter.finish()
    del small, both

    peaks = {stage.stage: stage.peak_bytes / MIB for stage in stages}
    assert [stage.stage for stage in stages] == ["big", "small", "both"]
    assert 90 <= peaks["big"] <= 110
    # The 96 MiB of the first stage were freed: the second stage sees only its own 24.
    assert 20 <= peaks["small"] <= 36
    # What an earlier stage still holds counts: 24 + 48.
    assert 66 <= peaks["both"] <= 84
    assert all(stage.seconds >= 0 for stage in stages)


def test_peak_since_start_is_the_largest_stage() -> None:
    meter = StageMeter("cpu")
    meter.start()
    meter.progress("a", 0.0)
    held = _hold(32)
    meter.progress("b", 0.0)
    meter.finish()
    del held
    assert meter.peak_since_start() == max(stage.peak_bytes for stage in meter.stages)
