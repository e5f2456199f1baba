"""The terminal progress display, in its plain (non-terminal) and interactive forms."""

from __future__ import annotations

import io

from plugin_server.progress import ProgressDisplay


def test_plain_output_has_one_line_per_clip_and_per_ten_percent() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, interactive=False)
    display.start([("a", "V1 door"), ("b", "V1 steps")], header="2 clips")
    display.progress("a", "synthesis", 50.0)
    display.finished("a", "generated")
    display.finished("b", "failed: no media")
    display.close()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "2 clips"
    assert "V1 door  generated" in lines
    assert "V1 steps  failed: no media" in lines
    assert lines[-1] == "overall 100% (2/2 clips)"
    assert "\x1b[" not in stream.getvalue()


def test_interactive_output_redraws_bars_in_place() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, interactive=True, min_redraw_s=0.0)
    display.start([("a", "V1 door")])
    display.progress("a", "synthesis", 40.0)
    display.finished("a", "generated")
    display.close()
    text = stream.getvalue()
    assert "\x1b[" in text  # cursor movement to redraw
    assert "40.0% synthesis  V1 door" in text
    assert "100.0% overall (1/1)" in text
