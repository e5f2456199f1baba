"""Benchmark the image family build: a build with no layer cache, then a cached rebuild.

    .venv/bin/python tests/benchmarks/bench_images.py \\
        --out tests/benchmarks/results/images_cpu.json -- \\
        --base-image foley-base:bookworm-python3.11 --wheelhouse-from-pip-config \\
        --ca-bundle /etc/ssl/certs/ca-certificates.crt

Arguments after `--` go to images/build.py (both runs). Writes wall times, image and layer
sizes (build.py's own report), the host's CPU and the Docker engine's version as JSON.
The base image must already be local: its pull or bootstrap is not part of the measure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from plugin_server.planning.device import cpu_model

REPO_ROOT = Path(__file__).resolve().parents[2]


def docker_version() -> str:
    result = subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "unknown"


def timed_build(build_arguments: list[str], report: Path) -> tuple[float, dict[str, Any]]:
    command = [
        sys.executable,
        str(REPO_ROOT / "images" / "build.py"),
        "--quiet",
        "--report",
        str(report),
        *build_arguments,
    ]
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"images/build.py failed:\n{result.stderr[-4000:]}")
    return seconds, json.loads(report.read_text(encoding="utf-8"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON results file")
    parser.add_argument("build_arguments", nargs=argparse.REMAINDER, help="-- build.py args")
    args = parser.parse_args()
    build_arguments = [a for a in args.build_arguments if a != "--"]
    with tempfile.TemporaryDirectory() as folder:
        cold_s, cold = timed_build([*build_arguments, "--no-cache"], Path(folder) / "cold.json")
        warm_s, warm = timed_build(build_arguments, Path(folder) / "warm.json")
    results = {
        "benchmark": "image family build (images/build.py)",
        "host": {"cpu": cpu_model(), "cores": os.cpu_count(), "machine": platform.machine()},
        "docker_engine": docker_version(),
        "build_arguments": build_arguments,
        "no_cache_build_s": round(cold_s, 1),
        "cached_rebuild_s": round(warm_s, 1),
        "per_image_no_cache": [
            {"tag": image["tag"], "build_seconds": image["build_seconds"]}
            for image in cold["images"]
        ],
        "images": warm["images"],
        # The filesystem layers every preset's image has: what a registry or host keeps once.
        "shared_layers": warm["shared_layers"],
        "shared_bytes": warm["shared_bytes"],
        "base_image": warm["base_image"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: results[k] for k in ("no_cache_build_s", "cached_rebuild_s")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
