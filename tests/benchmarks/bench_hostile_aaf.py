"""What a damaged AAF costs: an unbudgeted in-process read versus a real server's budgeted one.

    .venv/bin/python tests/benchmarks/bench_hostile_aaf.py

The damaged AAF is tests/data/timelines/one_clip.aaf with one stream size set to 2.4 GB
(tests/adversarial/hostile_inputs.py). Measures the peak RSS and time of an unbudgeted
read_timeline (in a child process, so the benchmark's own memory is not at stake), then starts
`foley-server serve`, sends three damaged AAFs at once and reports the server's peak RSS
(VmHWM) before and after, the answers and their times, and what a valid AAF costs to plan.
Writes tests/benchmarks/results/hostile_aaf.json.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "adversarial"))
sys.path.insert(0, str(REPO))

from hostile_inputs import TIMELINES, damaged_aaf  # noqa: E402

from plugin_server.client import FoleyClient, FoleyClientError  # noqa: E402
from plugin_server.planning.device import cpu_model  # noqa: E402

RESULTS = REPO / "tests" / "benchmarks" / "results" / "hostile_aaf.json"
_UNBUDGETED = """
import resource, sys
from timeline.formats import read_timeline
try:
    read_timeline(sys.stdin.buffer.read(), format="aaf")
    print("accepted")
except Exception as error:
    print(type(error).__name__)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def _peak_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) // 1024
    raise RuntimeError("no VmHWM")


def main() -> int:
    data = damaged_aaf()
    started = time.monotonic()
    unbudgeted = subprocess.run(
        [sys.executable, "-c", _UNBUDGETED], input=data, capture_output=True, check=True
    )
    answer, peak = unbudgeted.stdout.decode().split()
    results: dict[str, object] = {
        "device": f"{cpu_model()} ({platform.machine()})",
        "damaged_aaf_bytes": len(data),
        "unbudgeted": {
            "answer": answer,
            "peak_rss_mb": int(peak),
            "seconds": round(time.monotonic() - started, 2),
        },
    }
    with tempfile.TemporaryDirectory() as folder:
        media = Path(folder, "media")
        media.mkdir()
        command = [sys.executable, "-m", "plugin_server.cli", "serve", "--media-root", str(media)]
        command += ["--port", "0", "--work-dir", str(Path(folder, "work")), "--log-level", "ERROR"]
        server = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            address = server.stdout.readline().split()[-1]
            with FoleyClient(address) as client:
                client.plan((TIMELINES / "simple_cut.otio").read_bytes())
                before = _peak_mb(server.pid)
                answers: list[dict[str, object]] = []
                sent = time.monotonic()

                def plan() -> None:
                    try:
                        client.plan(data, timeline_format="aaf")
                        answers.append({"code": "OK"})
                    except FoleyClientError as error:
                        code = error.code.name if error.code else "ERROR"
                        seconds = round(time.monotonic() - sent, 2)
                        answers.append({"code": code, "seconds": seconds})

                threads = [threading.Thread(target=plan) for _ in range(3)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                after = _peak_mb(server.pid)
                valid = (TIMELINES / "transitions.aaf").read_bytes()
                timed = time.monotonic()
                client.plan(valid)
                valid_s = time.monotonic() - timed
            results["server"] = {
                "default_max_parse_mb": 512,
                "peak_rss_mb_before": before,
                "peak_rss_mb_after_three_at_once": after,
                "answers": answers,
                "valid_aaf_plan_seconds": round(valid_s, 2),
                "valid_aaf_bytes": len(valid),
            }
        finally:
            server.terminate()
            server.wait(timeout=30)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
