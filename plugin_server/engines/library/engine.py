"""The library engine: the studio's own sound-effects files placed on the picture's events.

Stages: "matching" (prompt words to files through the index), "analysis" (the picture's
events and motion, by the procedural engine's analysis), "placement" (one-shots on events,
beds looped under the clip, soft-limited). A prompt that matches no file is handed to the
procedural engine for that clip, and the report says so.

Deterministic: the same request, library index and seed give the same files, gains and
positions (every random draw comes from a stream seeded by seed, clip id and purpose).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import Any

import numpy as np

from plugin_server.engines.base import (
    Cancelled,
    CancelToken,
    ClipAudio,
    ClipRequest,
    EngineError,
    EngineInfo,
    EngineReport,
    EngineUnavailable,
    ProgressCallback,
)
from plugin_server.engines.library.audio import LibraryAudioError, read_mono
from plugin_server.engines.library.index import LibraryIndex, LibraryIndexError
from plugin_server.engines.library.matching import Selection, select_sounds
from plugin_server.engines.library.options import LibraryOptions
from plugin_server.engines.library.picture import PictureCues, picture_cues
from plugin_server.engines.library.placement import (
    BedPlacement,
    EventPlacement,
    place_bed,
    place_one_shots,
)
from plugin_server.engines.library.ranking import AudioTextRanker
from plugin_server.engines.library.records import LibraryEngineInfo, LibraryFile
from plugin_server.engines.procedural.dsp import soft_limit
from plugin_server.engines.procedural.engine import validate_clip_request
from plugin_server.engines.procedural.synthesis import stream_for
from plugin_server.engines.registry import EngineConfig

log = logging.getLogger(__name__)

ENGINE_NAME = "library"
MODEL_NAME = "library-fts5-1"
# How much of a file is ever read: a one-shot longer than this is cut, a bed loops within it.
_MAX_ONE_SHOT_S = 30.0
_MAX_BED_S = 120.0
_MAX_LISTED = 500

_INDEXES: dict[tuple[Any, ...], LibraryIndex] = {}
_INDEXES_LOCK = threading.Lock()


def shared_index(options: LibraryOptions) -> LibraryIndex:
    """The index for `options`, updated once per process (every worker shares it)."""
    key = (options.index, options.dirs, options.max_file_bytes)
    with _INDEXES_LOCK:
        index = _INDEXES.get(key)
        if index is None:
            index = LibraryIndex(options.index, options.dirs, options.max_file_bytes)
            summary = index.update()
            log.info(
                "library index %s: %d added, %d updated, %d removed, %d unchanged, %d skipped "
                "in %.2f s",
                options.index,
                summary.added,
                summary.updated,
                summary.removed,
                summary.unchanged,
                len(summary.skipped),
                summary.seconds,
            )
            _INDEXES[key] = index
        return index


class LibraryEngine:
    """One-shots from the configured libraries on the picture's events, beds under them."""

    name = ENGINE_NAME

    def __init__(
        self, config: EngineConfig | None = None, *, ranker: AudioTextRanker | None = None
    ) -> None:
        config = config or EngineConfig()
        self._options = LibraryOptions.from_mapping(config.options)
        self._procedural_options = {
            k: v for k, v in config.options.items() if k.startswith("procedural_")
        }
        self._ranker = ranker
        self._index: LibraryIndex | None = None
        self._model = MODEL_NAME
        self._reason = ""
        if not self._options.dirs:
            self._reason = (
                "no sound library configured: start the server with --library DIR "
                "(a folder under a --media-root)"
            )
            return
        try:
            self._index = shared_index(self._options)
        except LibraryIndexError as error:
            self._reason = str(error)
            return
        if self._ranker is None and self._options.clap_dir is not None:
            from plugin_server.engines.library.clap import shared_ranker

            try:
                self._ranker = shared_ranker(self._options.clap_dir, config.device)
            except EngineError as error:
                # A CLAP folder that cannot rank (text-only, incomplete) makes the engine
                # unavailable with the reason, rather than silently ranking by words.
                self._reason = str(error)
                self._index = None
                return
        # The model names the library's content (and the ranking weights), so the result cache
        # never serves audio made from files that have since changed.
        self._model = f"{MODEL_NAME}+{self._index.fingerprint()[:16]}"
        if self._ranker is not None:
            self._model += f"+{self._ranker.model}"

    @property
    def index(self) -> LibraryIndex | None:
        return self._index

    def info(self) -> EngineInfo:
        if self._index is None:
            return LibraryEngineInfo(
                name=ENGINE_NAME, model=MODEL_NAME, available=False, reason=self._reason
            )
        return LibraryEngineInfo(
            name=ENGINE_NAME,
            model=self._model,
            available=True,
            device="cpu",
            libraries=self._index.summaries(),
        )

    def generate(
        self,
        request: ClipRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ClipAudio:
        """The clip's audio from library files; see the module docstring. Raises
        EngineUnavailable without a library, EngineError for a bad request, Cancelled."""
        validate_clip_request(request)
        if self._index is None:
            raise EngineUnavailable(f"clip {request.clip_id!r}: {self._reason}")
        notify = progress or _no_progress
        stage = ["matching"]

        def check_cancel() -> None:
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"clip {request.clip_id!r} was cancelled during {stage[0]}")

        check_cancel()
        started = time.perf_counter()
        notify("matching", 0.0)
        sounds = _ClipSounds(request.sample_rate, request.clip_id)
        selection = select_sounds(
            self._index,
            request.prompt,
            request.negative_prompt or request.settings.negative_prompt,
            stream_for(request.seed, request.clip_id, "library:beds"),
            ranker=self._ranker,
            load=sounds.one_shot,
            sample_rate=request.sample_rate,
        )
        notify("matching", 100.0)
        if selection.empty:
            return self._fallback(request, selection, progress, cancel)
        matched = time.perf_counter()
        stage[0] = "analysis"
        notify("analysis", 0.0)
        cues = picture_cues(
            request,
            check_cancel=check_cancel,
            report=lambda fraction: notify("analysis", 100.0 * fraction),
        )
        notify("analysis", 100.0)
        analysed = time.perf_counter()
        stage[0] = "placement"
        check_cancel()
        out = np.zeros(request.num_samples, np.float32)
        beds: list[BedPlacement] = []
        for choice in selection.beds:
            samples = sounds.bed(choice.file)
            if samples is None:
                continue
            beds.append(
                place_bed(
                    out,
                    samples,
                    choice.file,
                    choice.concept,
                    cues.intensity,
                    stream_for(request.seed, request.clip_id, f"library:bed:{choice.concept.name}"),
                    sample_rate=request.sample_rate,
                )
            )
        notify("placement", 30.0)
        events = place_one_shots(
            out,
            cues.event_samples,
            cues.event_strengths,
            selection.one_shots,
            sounds.one_shot,
            stream_for(request.seed, request.clip_id, "library:one-shots"),
            stream_for(request.seed, request.clip_id, "library:pitch"),
            sample_rate=request.sample_rate,
            gain_variation_db=self._options.gain_variation_db,
            pitch_variation=self._options.pitch_variation,
            check_cancel=check_cancel,
        )
        if not np.all(np.isfinite(out)):
            raise EngineError(
                f"clip {request.clip_id!r}: the library mix holds non-finite samples; this is a "
                "bug in the library engine, please report the prompt, seed and files"
            )
        samples = soft_limit(out)
        notify("placement", 100.0)
        finished = time.perf_counter()
        report = EngineReport(
            engine=ENGINE_NAME,
            model=self._model,
            parameters=self._parameters(request, selection, cues, events, beds, sounds),
            peak_memory_bytes=int(out.nbytes * 3 + sounds.bytes),
            stage_seconds={
                "matching": matched - started,
                "analysis": analysed - matched,
                "placement": finished - analysed,
            },
            notes=_notes(selection, cues, events, sounds),
        )
        return ClipAudio(samples=samples, sample_rate=request.sample_rate, report=report)

    def _fallback(
        self,
        request: ClipRequest,
        selection: Selection,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> ClipAudio:
        from plugin_server.engines.procedural import ProceduralEngine

        words = ", ".join(selection.unmatched_words) or "(none)"
        reason = f"no library file matches the prompt (words: {words})"
        log.warning("clip %r: %s; the procedural engine makes this clip", request.clip_id, reason)
        audio = ProceduralEngine(EngineConfig(options=self._procedural_options)).generate(
            request, progress=progress, cancel=cancel
        )
        inner = audio.report
        parameters = {
            "fallback": "procedural",
            "fallback_reason": reason,
            "libraries": [str(d) for d in self._options.dirs],
            "matched_words": [],
            "unmatched_words": list(selection.unmatched_words),
            "library_files": [],
            "procedural": inner.parameters,
        }
        report = replace(
            inner,
            engine=ENGINE_NAME,
            model=f"{self._model} (fallback {inner.model})",
            parameters=parameters,
            notes=(f"{reason}; the procedural engine made this clip", *inner.notes),
        )
        return replace(audio, report=report)

    def _parameters(
        self,
        request: ClipRequest,
        selection: Selection,
        cues: PictureCues,
        events: list[EventPlacement],
        beds: list[BedPlacement],
        sounds: _ClipSounds,
    ) -> dict[str, Any]:
        return {
            "seed": request.seed,
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt or request.settings.negative_prompt,
            "fallback": None,
            "libraries": [str(d) for d in self._options.dirs],
            "ranking": selection.ranking,
            "matched_words": list(selection.matched_words),
            "unmatched_words": list(selection.unmatched_words),
            "has_picture": cues.has_picture,
            "onset_count": cues.onset_count,
            "event_count": len(events),
            "gain_variation_db": self._options.gain_variation_db,
            "pitch_variation": self._options.pitch_variation,
            "one_shot_pool": [str(f.path) for f in selection.one_shots],
            "library_files": _credits(events, beds),
            "events": [
                {
                    "time_s": round(e.time_s, 6),
                    "file": str(e.file.path),
                    "gain_db": e.gain_db,
                    "pitch_semitones": e.pitch_semitones,
                    "attack_s": round(e.attack_s, 6),
                }
                for e in events[:_MAX_LISTED]
            ],
            "unreadable_files": sorted(sounds.failures),
            "sample_rate": request.sample_rate,
            "num_samples": request.num_samples,
        }


class _ClipSounds:
    """The audio of the files one clip uses, each read once (None when unreadable)."""

    def __init__(self, sample_rate: int, clip_id: str) -> None:
        self._sample_rate = sample_rate
        self._clip_id = clip_id
        self._cache: dict[tuple[int, float], np.ndarray | None] = {}
        self.failures: dict[str, str] = {}

    @property
    def bytes(self) -> int:
        return sum(a.nbytes for a in self._cache.values() if a is not None)

    def one_shot(self, file: LibraryFile) -> np.ndarray | None:
        return self._read(file, _MAX_ONE_SHOT_S)

    def bed(self, file: LibraryFile) -> np.ndarray | None:
        samples = self._read(file, _MAX_BED_S)
        if samples is not None and len(samples) < 4:
            self.failures[str(file.path)] = "too short to loop"
            return None
        return samples

    def _read(self, file: LibraryFile, max_seconds: float) -> np.ndarray | None:
        key = (file.file_id, max_seconds)
        if key not in self._cache:
            try:
                self._cache[key] = read_mono(file.path, self._sample_rate, max_seconds)
            except LibraryAudioError as error:
                # The file changed or vanished since it was indexed: another file is used.
                log.warning("clip %r: library file not used: %s", self._clip_id, error)
                self.failures[str(file.path)] = str(error)
                self._cache[key] = None
        return self._cache[key]


def _credits(events: list[EventPlacement], beds: list[BedPlacement]) -> list[dict[str, Any]]:
    """Every library file used and where (clip seconds): what editors need for credits."""
    used: dict[str, dict[str, Any]] = {}
    for bed in beds:
        used[str(bed.file.path)] = {
            "path": str(bed.file.path),
            "library": str(bed.file.library),
            "description": bed.file.description,
            "role": f"bed:{bed.concept.name}",
            "times_s": [0.0],
            "offset_s": round(bed.offset_s, 6),
            "loop_points_s": [round(t, 6) for t in bed.loop_points_s[:_MAX_LISTED]],
        }
    for event in events:
        entry = used.setdefault(
            str(event.file.path),
            {
                "path": str(event.file.path),
                "library": str(event.file.library),
                "description": event.file.description,
                "role": "event",
                "times_s": [],
            },
        )
        if len(entry["times_s"]) < _MAX_LISTED:
            entry["times_s"].append(round(event.time_s, 6))
    return list(used.values())


def _notes(
    selection: Selection,
    cues: PictureCues,
    events: list[EventPlacement],
    sounds: _ClipSounds,
) -> tuple[str, ...]:
    notes: list[str] = []
    if not cues.has_picture and selection.one_shots:
        notes.append("no picture: one-shots on a walking-pace cadence")
    if selection.unmatched_words:
        notes.append(
            f"prompt words matching no library file: {', '.join(selection.unmatched_words)}"
        )
    if selection.one_shots and not events and len(cues.event_samples):
        notes.append("no matching one-shot could be read; events are silent")
    if cues.has_picture and selection.one_shots and not len(cues.event_samples):
        notes.append("the picture shows no events: no one-shots were placed")
    if sounds.failures:
        notes.append(f"{len(sounds.failures)} library file(s) could not be read and were replaced")
    return tuple(notes)


def _no_progress(stage: str, percent: float) -> None:
    del stage, percent
