"""A picture of the Resolve script's windows without Resolve: the widget trees the script itself
built (recorded by the UIManager stand-in in resolve_standin.py during a real run) written out
as HTML, one element per widget, and screenshotted by headless Chromium.

It is a stand-in rendering, and the page says so: the layout, texts, field values and drop-down
entries are the script's own; the look (colours, fonts, spacing) is ours, not Resolve's.
"""

from __future__ import annotations

import html
import logging
import struct
import subprocess
from pathlib import Path

from resolve_standin import StandInWidget, WindowShot

log = logging.getLogger(__name__)

NOTE = (
    "Rendered by a stand-in from the Foley script's own UIManager layout after a real run "
    "against a real server; not captured inside DaVinci Resolve."
)
CONSOLE_TITLE = "Script output (Resolve shows it in Workspace > Console)"
PAGE_SIZE = (980, 500)

_STYLE = """
body { margin: 0; padding: 20px; background: #101012; color: #d0d0d0;
       font: 13px "DejaVu Sans", sans-serif; width: 940px; }
.windows { display: flex; gap: 24px; align-items: flex-start; }
.window { background: #28282e; border: 1px solid #4a4a52; border-radius: 4px;
          display: flex; flex-direction: column; box-shadow: 0 4px 14px #000a; }
.window > header { background: #3a3a42; padding: 5px 10px; font-weight: bold; color: #eee; }
.window > .body { flex: 1; display: flex; padding: 8px; }
.VGroup { display: flex; flex-direction: column; gap: 6px; flex: 1; }
.HGroup { display: flex; flex-direction: row; gap: 6px; align-items: center; }
.Label { white-space: pre-wrap; }
input, select { background: #1b1b1f; color: #e8e8e8; border: 1px solid #55555e;
                padding: 3px 5px; font: inherit; flex: 1; min-width: 0; }
button { background: #45454e; color: #eee; border: 1px solid #66666f; padding: 4px 10px;
         font: inherit; flex: 1; }
.VGroup > button { flex: 0 0 auto; }
button.pressed { background: #5a6f8f; border-color: #8fa8cf; }
.caption { color: #9a9aa2; margin: 4px 0 10px; font-size: 12px; }
.console { margin-top: 22px; background: #1b1b1f; border: 1px solid #3a3a42; padding: 8px;
           font: 12px "DejaVu Sans Mono", monospace; white-space: pre; }
.console > header { font: bold 12px "DejaVu Sans", sans-serif; color: #aaa; margin-bottom: 6px; }
.note { margin-top: 16px; color: #8a8a92; font-size: 12px; font-style: italic; }
"""


def widget_html(widget: StandInWidget, pressed: str = "") -> str:
    """One widget and its children. Weight 0 keeps a widget at its natural size, as UIManager
    does; MinimumSize [w, h] becomes a minimum width and height in pixels."""
    props = widget.props
    style = []
    if props.get("Weight") == 0:
        style.append("flex: 0 0 auto")
    minimum = props.get("MinimumSize")
    if minimum:
        style.append(f"min-width: {int(minimum[0])}px; min-height: {int(minimum[1])}px")
    attributes = f' class="{widget.kind}"'
    if widget.ID:
        attributes += f' data-id="{html.escape(widget.ID)}"'
    if style:
        attributes += f' style="{"; ".join(style)}"'
    text = html.escape(widget.Text)
    kind = widget.kind
    if kind in ("VGroup", "HGroup"):
        inner = "".join(widget_html(child, pressed) for child in widget.children)
        return f"<div{attributes}>{inner}</div>"
    if kind == "Label":
        return f"<span{attributes}>{text}</span>"
    if kind == "LineEdit":
        return f'<input type="text"{attributes} value="{text}">'
    if kind == "ComboBox":
        options = "".join(
            f"<option{' selected' if index == widget.CurrentIndex else ''}>"
            f"{html.escape(item)}</option>"
            for index, item in enumerate(widget.items)
        )
        return f"<select{attributes}>{options}</select>"
    if kind == "Button":
        if widget.ID and pressed == widget.ID:
            attributes = attributes.replace('class="Button"', 'class="Button pressed"')
        return f"<button{attributes}>{text}</button>"
    raise ValueError(f"no rendering for the UIManager widget {kind!r}")


def window_html(shot: WindowShot) -> str:
    _x, _y, width, height = shot.geometry
    return (
        f'<section class="window" data-id="{html.escape(shot.window_id)}" '
        f'style="width: {width}px; min-height: {height}px">'
        f"<header>{html.escape(shot.title)}</header>"
        f'<div class="body">{widget_html(shot.root, shot.pressed)}</div></section>'
    )


def page_html(shots: list[WindowShot], console_lines: list[str]) -> str:
    """Every window of the run side by side, each captioned with what the editor pressed, then
    the script's console output and the note that this is a stand-in rendering."""
    windows = "".join(
        f'<div><div class="caption">{html.escape(_caption(shot))}</div>{window_html(shot)}</div>'
        for shot in shots
    )
    console = html.escape("\n".join(console_lines))
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Foley script dialog</title>'
        f"<style>{_STYLE}</style></head><body>"
        f'<div class="windows">{windows}</div>'
        f'<div class="console"><header>{html.escape(CONSOLE_TITLE)}</header>{console}</div>'
        f'<div class="note">{html.escape(NOTE)}</div></body></html>'
    )


def _caption(shot: WindowShot) -> str:
    if shot.window_id == "FoleyWindow":
        return "1. The dialog, filled in; the editor presses Generate Foley"
    return "2. When the job has finished"


def screenshot(page: Path, png: Path, chromium: Path) -> None:
    """Headless Chromium's picture of `page` at PAGE_SIZE."""
    width, height = PAGE_SIZE
    command = [
        str(chromium), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--force-device-scale-factor=1", f"--window-size={width},{height}",
        f"--screenshot={png}", page.as_uri(),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0 or not png.is_file():
        raise RuntimeError(f"chromium made no screenshot ({done.returncode}):\n{done.stderr}")


def png_size(png: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    data = png.read_bytes()[:24]
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError(f"{png} is not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return width, height
