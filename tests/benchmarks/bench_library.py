"""Benchmark: the library engine's index on a generated 10,000-file library.

Writes `--files` tiny WAV files with varied UCS names (plugin_server.engines.library.synthetic
.make_bulk_library), then times: the first full index build (headers and metadata chunks read,
never the audio), an incremental update with nothing changed, an update after touching 1 % of
the files, and FTS5 searches of one to four prompt words (each query's best of `--repeat`, and
the median over repeats). Both wall and process CPU time are recorded: on a shared machine the
CPU time is the honest figure. Targets (issue 16): index < 10 s, search < 10 ms.

    .venv/bin/python tests/benchmarks/bench_library.py [--files 10000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from plugin_server.engines.library.index import LibraryIndex
from plugin_server.engines.library.matching import select_sounds
from plugin_server.engines.library.records import ONE_SHOT
from plugin_server.engines.library.synthetic import make_bulk_library
from plugin_server.planning.device import cpu_model

QUERIES = (
    ["slam"],
    ["door", "slam"],
    ["heavy", "wood", "creak"],
    ["boots", "on", "gravel", "close"],
    ["glass", "bottle", "smash", "distant"],
)
RESULT = Path(__file__).resolve().parent / "results" / "library.json"


def _timed(action):  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), time.process_time()
    value = action()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "library"
        _, write_s, _ = _timed(lambda: make_bulk_library(root, args.files))
        index = LibraryIndex(Path(scratch) / "work" / "index.sqlite", [root], 1 << 30)
        first, build_wall, build_cpu = _timed(index.update)
        again, noop_wall, noop_cpu = _timed(index.update)
        for path in sorted(root.rglob("*.wav"))[::100]:
            os.utime(path, ns=(1, 2_000_000_000))
        touched, touch_wall, touch_cpu = _timed(index.update)
        searches = {}
        for words in QUERIES:
            walls, cpus = [], []
            for _ in range(args.repeat):
                matches, wall, cpu = _timed(lambda words=words: index.search(words, ONE_SHOT))
                walls.append(wall)
                cpus.append(cpu)
            searches[" ".join(words)] = {
                "matches_returned": len(matches),
                "wall_best_ms": round(min(walls) * 1000, 3),
                "wall_median_ms": round(statistics.median(walls) * 1000, 3),
                "cpu_median_ms": round(statistics.median(cpus) * 1000, 3),
            }
        _, select_wall, select_cpu = _timed(
            lambda: select_sounds(
                index, "heavy door slam in the rain", "", np.random.default_rng(0)
            )
        )
    result = {
        "benchmark": "library index and search",
        "device": f"{cpu_model()} ({os.cpu_count()} logical CPUs, shared), {platform.system()}",
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "files": args.files,
        "write_library_s": round(write_s, 2),
        "index_build": {
            "wall_s": round(build_wall, 3),
            "cpu_s": round(build_cpu, 3),
            "added": first.added,
        },
        "index_update_unchanged": {
            "wall_s": round(noop_wall, 3),
            "cpu_s": round(noop_cpu, 3),
            "read": again.read,
        },
        "index_update_1_percent_touched": {
            "wall_s": round(touch_wall, 3),
            "cpu_s": round(touch_cpu, 3),
            "updated": touched.updated,
        },
        "search": searches,
        "select_sounds": {
            "prompt": "heavy door slam in the rain",
            "wall_ms": round(select_wall * 1000, 3),
            "cpu_ms": round(select_cpu * 1000, 3),
        },
        "targets": {"index_build_s": 10.0, "search_ms": 10.0},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
