"""A stand-in for the part of DaVinci Resolve's scripting API the Foley script calls, as
documented in Resolve's Developer/Scripting/README.txt (no Resolve runs on CI machines).

Its timeline "exports" a real OTIO file from the sample set; its media pool records what it is
asked to import. Methods answer like Resolve's: objects, lists, True/False or None.
"""

from __future__ import annotations

import shutil
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
