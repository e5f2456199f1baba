"""The child process of timeline_reader: parse one timeline under resource limits.

    python -m plugin_server.pipeline.parse_child '{"format": "aaf", ...}' < timeline-bytes

Caps its own address space (RLIMIT_AS) and CPU time before reading the input, parses, and
prints one JSON object: the selected timeline as OTIO JSON with what read_timeline decided,
or {"error": {...}} for a typed error (`memory` set when the budget ran out).
"""

from __future__ import annotations

import json
import resource
import sys
from typing import Any


def _limit(max_memory_bytes: int, timeout_s: float) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (max_memory_bytes, max_memory_bytes))
    # A backstop for the parent's timeout: the kernel stops a child spinning on the CPU.
    cpu_s = int(timeout_s) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))


def _answer(request: dict[str, Any], data: bytes) -> dict[str, Any]:
    import opentimelineio as otio

    from timeline.errors import TimelineError
    from timeline.formats import read_timeline

    try:
        loaded = read_timeline(
            data,
            format=request["format"],
            timeline_name=request.get("timeline_name"),
            source_name=request.get("source_name"),
        )
        text = otio.adapters.write_to_string(loaded.timeline, adapter_name="otio_json", indent=-1)
    except MemoryError:
        return {"error": {"memory": True}}
    except TimelineError as error:
        if isinstance(error.__cause__, MemoryError):
            return {"error": {"memory": True}}
        return {"error": {"type": type(error).__name__, "detail": error.detail, "file": error.file}}
    # Post-processing of what the adapter built (timecode at an odd rate, deep nesting).
    except (ValueError, OverflowError, RecursionError) as error:
        detail = f"the timeline cannot be worked on: {type(error).__name__}: {error}"
        return {"error": {"type": "MalformedTimeline", "detail": detail[:300], "file": None}}
    return {
        "timeline": text,
        "format": loaded.format,
        "available_names": list(loaded.available_names),
        "source_name": loaded.source_name,
        "notes": list(loaded.notes),
    }


def main() -> int:
    request = json.loads(sys.argv[1])
    _limit(int(request["max_memory_bytes"]), float(request["timeout_s"]))
    answer = _answer(request, sys.stdin.buffer.read())
    sys.stdout.write(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
