"""Memory and time planning for the hunyuan engine: predict, choose, fall back, measure.

- model_dims.py: network sizes (DiT, SigLIP2, CLAP, Synchformer, DAC) and parameter counts.
- workload.py: the lengths a clip gets under a preset (windows, frames, tokens).
- memory_model.py: per-stage analytic working memory and work; calibration.py/.json: the
  measured constants; planner.py: `estimate_clip` -> ClipEstimate.
- device.py: what a device offers; auto.py: the `auto` preset; ceiling.py: the injected
  memory ceiling; fallback.py: the out-of-memory ladder.
- measure.py, bench.py, bench_chart.py, calibrate.py, synthetic_video.py: the preset benchmark
  (`foley-server bench`) and the calibration fit.

Only measure/bench/loaded_dims import torch; the planner itself is plain Python.
"""
