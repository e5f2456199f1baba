"""Every DaVinci Resolve call of the Foley script, and nothing else.

Targets the scripting API documented in Resolve's `Developer/Scripting/README.txt` (Resolve 18.5
and later: `resolve.EXPORT_OTIO` first appeared in 18.5.0). Calls used:
`Resolve.GetProjectManager().GetCurrentProject()`, `Project.GetCurrentTimeline()`,
`Project.GetTimelineCount()` / `GetTimelineByIndex(i)`, `Project.SetCurrentTimeline(t)`,
`Timeline.GetName()`, `Timeline.Export(path, resolve.EXPORT_OTIO, resolve.EXPORT_NONE)`,
`Project.GetMediaPool()`, `MediaPool.GetRootFolder()`, `GetCurrentFolder()`,
`SetCurrentFolder(f)`, `AddSubFolder(f, name)`, `Folder.GetSubFolderList()`, `Folder.GetName()`,
`MediaPool.ImportMedia([paths])`, `MediaPool.ImportTimelineFromFile(path, {"timelineName": ...,
"importSourceClips": True})`, and the Fusion UIManager (`fusion.UIManager`,
`bmd.UIDispatcher`) for the dialog.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from plugin_server.integrations.resolve.flow import (
    FoleyRequest,
    ResolveScriptError,
    ServerChoices,
    connect,
    load_request,
    parse_request,
    run_foley,
    save_request,
    server_choices,
    settings_path,
    unique_name,
)

log = logging.getLogger(__name__)

FOLEY_BIN = "Foley"


class ResolveProject:
    """The current project of a running Resolve, behind the three calls the flow needs."""

    def __init__(self, resolve: Any) -> None:
        self._resolve = resolve
        manager = resolve.GetProjectManager() if resolve is not None else None
        self._project = manager.GetCurrentProject() if manager is not None else None
        if self._project is None:
            raise ResolveScriptError("Open a project in DaVinci Resolve first.")

    def _timeline(self) -> Any:
        timeline = self._project.GetCurrentTimeline()
        if timeline is None:
            raise ResolveScriptError("Open a timeline first: Foley is made for the current one.")
        return timeline

    def timeline_name(self) -> str:
        return str(self._timeline().GetName())

    def export_otio(self, path: Path) -> None:
        export_type = getattr(self._resolve, "EXPORT_OTIO", None)
        if export_type is None:
            raise ResolveScriptError("Exporting OTIO needs DaVinci Resolve 18.5 or later.")
        # The subtype only matters for AAF and EDL exports; EXPORT_NONE for everything else.
        if not self._timeline().Export(str(path), export_type, self._resolve.EXPORT_NONE):
            raise ResolveScriptError(f"Resolve could not export the timeline to {path}.")
        if not path.is_file():
            raise ResolveScriptError(f"Resolve reported an export but wrote no {path}.")

    def import_result(
        self, timeline_path: Path, timeline_name: str, audio_files: tuple[Path, ...]
    ) -> str:
        """Put the WAVs in a "Foley" bin and create the result timeline beside the original;
        returns the new timeline's name."""
        media_pool = self._project.GetMediaPool()
        previous_folder = media_pool.GetCurrentFolder()
        media_pool.SetCurrentFolder(self._foley_bin(media_pool))
        try:
            if audio_files and not media_pool.ImportMedia([str(path) for path in audio_files]):
                log.warning("Resolve imported none of the %d Foley files", len(audio_files))
            existing = [
                self._project.GetTimelineByIndex(index).GetName()
                for index in range(1, int(self._project.GetTimelineCount()) + 1)
            ]
            name = unique_name(timeline_name, existing)
            imported = media_pool.ImportTimelineFromFile(
                str(timeline_path), {"timelineName": name, "importSourceClips": True}
            )
        finally:
            if previous_folder is not None:
                media_pool.SetCurrentFolder(previous_folder)
        if not imported:
            raise ResolveScriptError(
                f"Resolve could not import {timeline_path}; import it with File > Import > "
                "Timeline."
            )
        self._project.SetCurrentTimeline(imported)
        return name

    @staticmethod
    def _foley_bin(media_pool: Any) -> Any:
        root = media_pool.GetRootFolder()
        for folder in root.GetSubFolderList() or []:
            if folder.GetName() == FOLEY_BIN:
                return folder
        return media_pool.AddSubFolder(root, FOLEY_BIN) or root


def ask(fusion: Any, bmd: Any, defaults: FoleyRequest, choices: ServerChoices) -> dict | None:
    """The dialog: prompt, preset, engine, server and handles. Returns the fields' text, or
    None when the editor closed it."""
    ui = fusion.UIManager
    dispatcher = bmd.UIDispatcher(ui)

    def row(label: str, widget: Any) -> Any:
        return ui.HGroup(
            {"Weight": 0}, [ui.Label({"Text": label, "Weight": 0, "MinimumSize": [90, 0]}), widget]
        )

    status = "" if choices.reachable else f"No server answered at {defaults.server}."
    fields = [
        row("Prompt", ui.LineEdit({"ID": "prompt", "Text": defaults.prompt})),
        row("Preset", ui.ComboBox({"ID": "preset"})),
        row("Engine", ui.ComboBox({"ID": "engine"})),
        row("Server", ui.LineEdit({"ID": "server", "Text": defaults.server})),
        row("Handles", ui.LineEdit({"ID": "handles", "Text": str(defaults.handles_frames)})),
        row("Audio folder", ui.LineEdit({"ID": "output", "Text": defaults.output_folder})),
        ui.Label({"ID": "status", "Text": status}),
    ]
    buttons = ui.HGroup(
        {"Weight": 0},
        [
            ui.Button({"ID": "cancel", "Text": "Cancel"}),
            ui.Button({"ID": "generate", "Text": "Generate Foley"}),
        ],
    )
    window = dispatcher.AddWindow(
        {"ID": "FoleyWindow", "WindowTitle": "Foley", "Geometry": [300, 300, 460, 250]},
        ui.VGroup([*fields, buttons]),
    )
    items = window.GetItems()
    for combo, names, current in (
        ("preset", choices.presets, defaults.preset),
        ("engine", choices.engines, defaults.engine),
    ):
        for name in names:
            items[combo].AddItem(name)
        if current in names:
            items[combo].CurrentIndex = names.index(current)
    answer: dict[str, str] = {}

    def on_generate(_event: Any) -> None:
        answer.update(
            prompt=items["prompt"].Text,
            preset=items["preset"].CurrentText,
            engine=items["engine"].CurrentText,
            server=items["server"].Text,
            handles_frames=items["handles"].Text,
            output_folder=items["output"].Text,
            token_file=defaults.token_file,
        )
        dispatcher.ExitLoop()

    def on_close(_event: Any) -> None:
        dispatcher.ExitLoop()

    window.On.generate.Clicked = on_generate
    window.On.cancel.Clicked = on_close
    window.On.FoleyWindow.Close = on_close
    window.Show()
    dispatcher.RunLoop()
    window.Hide()
    return answer or None


def show_message(fusion: Any, bmd: Any, text: str) -> None:
    """A small window with `text` and OK (also printed to Resolve's console)."""
    print(text)
    if fusion is None or bmd is None:
        return
    ui = fusion.UIManager
    dispatcher = bmd.UIDispatcher(ui)
    window = dispatcher.AddWindow(
        {"ID": "FoleyMessage", "WindowTitle": "Foley", "Geometry": [320, 320, 420, 130]},
        ui.VGroup(
            [ui.Label({"Text": text, "WordWrap": True}), ui.Button({"ID": "ok", "Text": "OK"})]
        ),
    )

    def close(_event: Any) -> None:
        dispatcher.ExitLoop()

    window.On.ok.Clicked = close
    window.On.FoleyMessage.Close = close
    window.Show()
    dispatcher.RunLoop()
    window.Hide()


def main(resolve: Any, fusion: Any = None, bmd: Any = None) -> int:
    """The script's entry point (plugins/resolve/Foley.py calls it with Resolve's globals).

    Without `bmd` (a script run from a terminal) there is no dialog: the saved settings are
    used as they are."""
    saved = settings_path()
    defaults = load_request(saved)
    try:
        project = ResolveProject(resolve)
        request = defaults
        if fusion is not None and bmd is not None:
            with connect(defaults) as client:
                choices = server_choices(client)
            answer = ask(fusion, bmd, defaults, choices)
            if answer is None:
                return 1
            request = parse_request(answer)
            save_request(saved, request)
        message = run_foley(project, request, cancel=threading.Event())
    except ResolveScriptError as error:
        show_message(fusion, bmd, str(error))
        return 1
    show_message(fusion, bmd, message)
    return 0
