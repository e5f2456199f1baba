"""The preset benchmark as a script: `foley-server bench`, with the results folder as default.

Every built-in preset and every single-parameter change from `default`, through the whole
hunyuan pipeline on a synthetic 30 s 1080p clip; JSON and a PNG chart under results/. The logic
lives in plugin_server/planning/bench.py; see docs/presets.md for what is measured.

    .venv/bin/python tests/benchmarks/bench_presets.py                    # = make bench
    .venv/bin/python tests/benchmarks/bench_presets.py --model-size tiny --duration 4 \\
        --height 360 --json tests/benchmarks/results/presets_tiny_cpu_4s.json --repeat 2
    .venv/bin/python tests/benchmarks/bench_presets.py --predict --model-size xxl --device h100 \\
        --json tests/benchmarks/results/presets_xxl_h100_predicted.json
"""

from __future__ import annotations

import sys
from pathlib import Path

from plugin_server.cli import main

RESULTS = Path(__file__).resolve().parent / "results"

if __name__ == "__main__":
    arguments = sys.argv[1:]
    if "--json" not in arguments and "--calibrate" not in arguments:
        arguments += ["--json", str(RESULTS / "presets_cpu.json")]
    sys.exit(main(["bench", *arguments]))
