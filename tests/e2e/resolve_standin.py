"""A stand-in for the part of DaVinci Resolve's scripting API the Foley script calls, as
documented in Resolve's Developer/Scripting/README.txt (no Resolve runs on CI machines), and of
the Fusion UIManager its dialog is built with.

Its timeline "exports" a real OTIO file from the sample set; its media pool records what it is
asked to import. Methods answer like Resolve's: objects, lists, True/False or None.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class StandInFolder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.subfolders: list[StandInFolder] = []
        self.clips: list[str] = []

    def GetName(self) -> str:
        return self.name

    def GetSubFolderList(self) -> list[StandInFolder]:
        return list(self.subfolders)


class StandInTimeline:
    def __init__(self, name: str, source: Path | None, resolve: StandInResolve) -> None:
        self.name = name
        self._source = source
        self._resolve = resolve

    def GetName(self) -> str:
        return self.name

    def Export(self, file_name: str, export_type: Any, export_subtype: Any) -> bool:
        self._resolve.calls.append(("Export", file_name, export_type, export_subtype))
        if export_type != self._resolve.EXPORT_OTIO or export_subtype != self._resolve.EXPORT_NONE:
            return False
        assert self._source is not None
        shutil.copyfile(self._source, file_name)
        return True


class StandInMediaPool:
    def __init__(self, resolve: StandInResolve) -> None:
        self._resolve = resolve
        self.root = StandInFolder("Master")
        self.current = self.root

    def GetRootFolder(self) -> StandInFolder:
        return self.root

    def GetCurrentFolder(self) -> StandInFolder:
        return self.current

    def SetCurrentFolder(self, folder: StandInFolder) -> bool:
        self.current = folder
        return True

    def AddSubFolder(self, parent: StandInFolder, name: str) -> StandInFolder:
        folder = StandInFolder(name)
        parent.subfolders.append(folder)
        return folder

    def ImportMedia(self, paths: list[str]) -> list[str]:
        self._resolve.calls.append(("ImportMedia", self.current.name, list(paths)))
        found = [path for path in paths if Path(path).is_file()]
        self.current.clips.extend(found)
        return found

    def ImportTimelineFromFile(self, path: str, options: dict) -> StandInTimeline | None:
        self._resolve.calls.append(("ImportTimelineFromFile", path, dict(options)))
        if not Path(path).is_file():
            return None
        timeline = StandInTimeline(
            options.get("timelineName") or Path(path).stem, None, self._resolve
        )
        self._resolve.project.timelines.append(timeline)
        return timeline


class StandInProject:
    def __init__(self, resolve: StandInResolve, timeline: StandInTimeline | None) -> None:
        self.timelines = [timeline] if timeline is not None else []
        self.current = timeline
        self.media_pool = StandInMediaPool(resolve)

    def GetCurrentTimeline(self) -> StandInTimeline | None:
        return self.current

    def SetCurrentTimeline(self, timeline: StandInTimeline) -> bool:
        self.current = timeline
        return True

    def GetTimelineCount(self) -> int:
        return len(self.timelines)

    def GetTimelineByIndex(self, index: int) -> StandInTimeline:
        return self.timelines[index - 1]  # Resolve counts from 1

    def GetMediaPool(self) -> StandInMediaPool:
        return self.media_pool


class StandInProjectManager:
    def __init__(self, project: StandInProject | None) -> None:
        self.project = project

    def GetCurrentProject(self) -> StandInProject | None:
        return self.project


class StandInResolve:
    """`timeline_source`: the OTIO file the current timeline exports as (None: no timeline)."""

    # Resolve's constants are opaque values; distinct objects make a mix-up visible.
    EXPORT_OTIO = "EXPORT_OTIO"
    EXPORT_NONE = "EXPORT_NONE"

    def __init__(self, timeline_name: str = "Reel 1", timeline_source: Path | None = None) -> None:
        self.calls: list[tuple] = []
        timeline = (
            StandInTimeline(timeline_name, timeline_source, self) if timeline_source else None
        )
        self.project = StandInProject(self, timeline)
        self._manager = StandInProjectManager(self.project)

    def GetProjectManager(self) -> StandInProjectManager:
        return self._manager


# -- Fusion's UIManager, for the script's dialog ---------------------------------------------------
#
# Resolve hands scripts `fusion.UIManager` (widget constructors: `ui.VGroup([...])`,
# `ui.HGroup({props}, [...])`, `ui.Label({props})`...) and `bmd.UIDispatcher(ui)` (AddWindow,
# RunLoop, ExitLoop). The stand-in builds the same tree of widgets the script asks for, keeps
# the properties the script sets (Text, CurrentIndex, items), and plays the editor: when the
# script enters RunLoop, `editor` may change fields and names the button to press; the window is
# recorded as it looks at that moment, then the button's Clicked handler runs.


class StandInWidget:
    """One widget: `kind` (the UIManager constructor's name), its properties, its children."""

    def __init__(self, kind: str, props: dict[str, Any], children: list[StandInWidget]) -> None:
        self.kind = kind
        self.props = dict(props)
        self.children = list(children)
        self.items: list[str] = []  # a ComboBox's entries

    @property
    def ID(self) -> str:
        return str(self.props.get("ID", ""))

    @property
    def Text(self) -> str:
        return str(self.props.get("Text", ""))

    @Text.setter
    def Text(self, value: str) -> None:
        self.props["Text"] = value

    @property
    def CurrentIndex(self) -> int:
        return int(self.props.get("CurrentIndex", 0))

    @CurrentIndex.setter
    def CurrentIndex(self, value: int) -> None:
        self.props["CurrentIndex"] = value

    @property
    def CurrentText(self) -> str:
        index = self.CurrentIndex
        return self.items[index] if 0 <= index < len(self.items) else ""

    def AddItem(self, text: str) -> None:
        self.items.append(text)

    def walk(self) -> list[StandInWidget]:
        found = [self]
        for child in self.children:
            found.extend(child.walk())
        return found


class StandInUIManager:
    """The widget constructors the Foley script calls; any other is an AttributeError, so a
    widget the renderer does not know cannot slip into the picture unnoticed."""

    @staticmethod
    def _widget(kind: str, args: tuple[Any, ...]) -> StandInWidget:
        props: dict[str, Any] = {}
        children: list[StandInWidget] = []
        for arg in args:
            if isinstance(arg, dict):
                props = arg
            else:
                children = list(arg)
        return StandInWidget(kind, props, children)

    def VGroup(self, *args: Any) -> StandInWidget:
        return self._widget("VGroup", args)

    def HGroup(self, *args: Any) -> StandInWidget:
        return self._widget("HGroup", args)

    def Label(self, *args: Any) -> StandInWidget:
        return self._widget("Label", args)

    def LineEdit(self, *args: Any) -> StandInWidget:
        return self._widget("LineEdit", args)

    def ComboBox(self, *args: Any) -> StandInWidget:
        return self._widget("ComboBox", args)

    def Button(self, *args: Any) -> StandInWidget:
        return self._widget("Button", args)


class _Handlers:
    """`window.On.<ID>`: the script assigns `Clicked`, `Close`... as attributes."""


class _Events:
    def __init__(self) -> None:
        self._by_id: dict[str, _Handlers] = {}

    def __getattr__(self, widget_id: str) -> _Handlers:
        if widget_id.startswith("_"):
            raise AttributeError(widget_id)
        return self._by_id.setdefault(widget_id, _Handlers())


class StandInWindow:
    def __init__(self, props: dict[str, Any], root: StandInWidget) -> None:
        self.props = dict(props)
        self.root = root
        self.On = _Events()
        self.shown = False

    @property
    def ID(self) -> str:
        return str(self.props.get("ID", ""))

    def GetItems(self) -> dict[str, StandInWidget]:
        return {widget.ID: widget for widget in self.root.walk() if widget.ID}

    def Show(self) -> None:
        self.shown = True

    def Hide(self) -> None:
        self.shown = False


@dataclass(frozen=True)
class WindowShot:
    """A window as the editor saw it when pressing `pressed`: a deep copy of its widgets."""

    window_id: str
    title: str
    geometry: tuple[int, int, int, int]  # x, y, width, height, as the script asked
    root: StandInWidget
    pressed: str


Editor = Callable[[StandInWindow], str]


class StandInDispatcher:
    def __init__(self, ui: StandInUIManager, editor: Editor, shots: list[WindowShot]) -> None:
        self._ui = ui
        self._editor = editor
        self._shots = shots
        self._windows: list[StandInWindow] = []
        self._exit = False

    def AddWindow(self, props: dict[str, Any], root: StandInWidget) -> StandInWindow:
        window = StandInWindow(props, root)
        self._windows.append(window)
        return window

    def RunLoop(self) -> None:
        window = next(w for w in reversed(self._windows) if w.shown)
        pressed = self._editor(window)
        geometry = tuple(int(value) for value in window.props.get("Geometry", (0, 0, 400, 200)))
        self._shots.append(
            WindowShot(
                window.ID,
                str(window.props.get("WindowTitle", "")),
                geometry,  # type: ignore[arg-type]
                copy.deepcopy(window.root),
                pressed,
            )
        )
        self._exit = False
        getattr(window.On, pressed).Clicked({"who": pressed})
        # A real loop would wait forever for a handler that never calls ExitLoop.
        assert self._exit, f"pressing {pressed!r} in {window.ID} did not end the script's loop"

    def ExitLoop(self) -> None:
        self._exit = True


class StandInFusion:
    def __init__(self) -> None:
        self.UIManager = StandInUIManager()


class StandInBmd:
    """`bmd`: its UIDispatcher plays `editor` and records every window in `shots`."""

    def __init__(self, editor: Editor) -> None:
        self._editor = editor
        self.shots: list[WindowShot] = []

    def UIDispatcher(self, ui: StandInUIManager) -> StandInDispatcher:
        return StandInDispatcher(ui, self._editor, self.shots)
