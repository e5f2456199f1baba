"""The watch loop: notice timelines landing in IN_DIR, wait until each is complete, run it, and
write its result, audio and status into OUT_DIR under the input's base name.

File-system events (watchdog) only wake the loop; every decision comes from a scan of IN_DIR,
so a missed event, a network share without events or a restart lose nothing. The scan runs in
one thread; jobs run in a bounded pool of `jobs` threads.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from plugin_server.pipeline.formats import extension, result_format_for
from plugin_server.watch.files import (
    Signature,
    content_hash,
    done_marker,
    is_candidate,
    signature,
    timeline_suffix,
)
from plugin_server.watch.jobs import (
    JobFailed,
    JobOutcome,
    JobRunner,
    ServerUnavailable,
    WatchJob,
)
from plugin_server.watch.state import ProcessedEntry, WatchState
from plugin_server.watch.status import JobStatus, outcome_of, timestamp, write_status
from timeline.formats import normalize_format
from timeline.output_rules import sniff_path

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac")


@dataclass(frozen=True)
class WatchSettings:
    """`settle_s`: how long an entry's size and mtime must stay unchanged before it counts as
    complete (a `<name>.done` sidecar skips the wait; `require_done` waits for one).
    `retry_s`: when to try again after the server could not be reached."""

    input_dir: Path
    output_dir: Path
    settle_s: float = 2.0
    poll_s: float = 1.0
    jobs: int = 2
    require_done: bool = False
    polling_observer: bool = False
    retry_s: float = 10.0


class FolderWatcher:
    def __init__(self, settings: WatchSettings, runner: JobRunner, state: WatchState) -> None:
        self.settings = settings
        self._runner = runner
        self._state = state
        self._wake = threading.Event()
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: dict[str, str] = {}  # input name -> base name
        self._pending: dict[str, tuple[Signature, float]] = {}  # name -> (signature, since)
        self._retry_at: dict[str, float] = {}
        self.processed = 0
        self.deferred = 0

    def cancel_now(self) -> None:
        """Stop the jobs in flight at their next stage (a second Ctrl-C)."""
        self._cancel.set()
        self._wake.set()

    def run(self, stop: threading.Event, *, once: bool = False, grace_s: float = 30.0) -> None:
        """Watch until `stop` is set (or, with `once`, until nothing is waiting any more). Jobs
        in flight then get `grace_s` seconds to finish before they are cancelled; jobs not
        started are dropped and picked up again on the next start."""
        observer = self._start_observer()
        pool = ThreadPoolExecutor(self.settings.jobs, thread_name_prefix="foley-watch")
        try:
            while not stop.is_set():
                wait_s = self._scan(pool, time.monotonic())
                if once and self._idle():
                    break
                self._wake.wait(wait_s)
                self._wake.clear()
                # Stop is checked before the next scan; a stop during the wait wakes us here.
        finally:
            if observer is not None:
                observer.stop()
            pool.shutdown(wait=False, cancel_futures=True)
            self._drain(grace_s)
            pool.shutdown(wait=True)

    def wake(self) -> None:
        self._wake.set()

    # -- scanning ----------------------------------------------------------------------------

    def _idle(self) -> bool:
        with self._lock:
            return not self._in_flight and not self._pending

    def _scan(self, pool: ThreadPoolExecutor, now: float) -> float:
        """Submit every complete, unprocessed entry; return how long to wait before the next
        scan is needed (settle times running out)."""
        settings = self.settings
        wait_s = settings.poll_s
        try:
            entries = sorted(settings.input_dir.iterdir())
        except OSError as error:
            log.error("cannot list %s: %s", settings.input_dir, error.strerror)
            return wait_s
        present = set()
        for path in entries:
            if not is_candidate(path):
                continue
            name = path.name
            present.add(name)
            with self._lock:
                busy = name in self._in_flight
            if busy or now < self._retry_at.get(name, 0.0):
                continue
            try:
                current = signature(path)
            except OSError:
                continue  # removed or replaced while we looked: the next scan sees it again
            if self._state.seen(name, current):
                self._pending.pop(name, None)
                continue
            if current.size == 0:
                continue  # created, not written yet: no timeline is empty
            if not _marked_done(path, current):
                if settings.require_done:
                    continue
                previous = self._pending.get(name)
                if previous is None or previous[0] != current:
                    self._pending[name] = (current, now)
                    wait_s = min(wait_s, settings.settle_s)
                    continue
                unchanged_s = now - previous[1]
                if unchanged_s < settings.settle_s:
                    wait_s = min(wait_s, settings.settle_s - unchanged_s)
                    continue
            self._pending.pop(name, None)
            try:
                digest = content_hash(path)
                if signature(path) != current:
                    continue  # it changed while we read it: look again next scan
            except OSError:
                continue
            if self._state.seen(name, current, digest):
                self._state.refresh(name, current)  # same content, new mtime: nothing to do
                continue
            with self._lock:
                base = self._base_for(name)
                self._in_flight[name] = base
            log.info("%s is complete; processing it as %s", name, base)
            pool.submit(self._process, path, current, digest, base)
        for name in list(self._pending):
            if name not in present:
                del self._pending[name]
        return max(wait_s, 0.05)

    def _base_for(self, name: str) -> str:
        """The output base name: the input's stem, unless another input already owns it (then
        `<stem>_<suffix>`, then numbered). Called with the lock held."""
        previous = self._state.entry(name)
        if previous is not None:
            return previous.base
        owners = self._state.bases()
        owners.update({base: owner for owner, base in self._in_flight.items()})
        stem, suffix = Path(name).stem, Path(name).suffix.lstrip(".").lower()
        candidates = [stem, f"{stem}_{suffix}", *(f"{stem}_{suffix}_{n}" for n in range(2, 1000))]
        for candidate in candidates:
            if owners.get(candidate, name) == name:
                return candidate
        raise RuntimeError(f"no free output name for {name}")

    # -- one job -----------------------------------------------------------------------------

    def _process(self, source: Path, observed: Signature, digest: str, base: str) -> None:
        name = source.name
        try:
            self._process_unguarded(source, observed, digest, base)
        except Exception:
            # A bug must not stop the watcher; the entry is tried again on the next start.
            log.exception("%s: unexpected error; it will be tried again on the next start", name)
        finally:
            with self._lock:
                self._in_flight.pop(name, None)
            self._wake.set()

    def _process_unguarded(self, source: Path, observed: Signature, digest: str, base: str) -> None:
        name = source.name
        output_dir = self.settings.output_dir
        # The content decides (an .xml may hold FCPXML); the suffix when the content is unclear.
        input_format = sniff_path(source) or normalize_format(
            timeline_suffix(name) or "", file=name
        )
        expected_format, _ = result_format_for(input_format, None)
        staging = output_dir / f".{base}.partial-{uuid.uuid4().hex[:8]}{extension(expected_format)}"
        audio_dir = output_dir / f"{base}_audio"
        job = WatchJob(source, input_format, staging, audio_dir)
        started = time.time()
        outcome: JobOutcome | None = None
        errors: list[str] = []
        try:
            try:
                outcome = self._runner.run(job, self._cancel)
            except JobFailed as error:
                errors.append(str(error))
            except ServerUnavailable as error:
                log.warning("%s: %s; trying again in %.0f s", name, error, self.settings.retry_s)
                self._retry_at[name] = time.monotonic() + self.settings.retry_s
                self.deferred += 1
                return
            if outcome is not None and outcome.job_cancelled:
                log.info("%s: cancelled; it will be processed on the next start", name)
                return
            result_path = None
            if outcome is not None and outcome.result_format is not None:
                result_path = output_dir / f"{base}{extension(outcome.result_format)}"
                os.replace(staging, result_path)
                _prune_audio(audio_dir, outcome.audio_files)
        finally:
            staging.unlink(missing_ok=True)
        status = _status(name, digest, self._runner.describe, outcome, errors, result_path, started)
        write_status(output_dir / f"{base}.json", status)
        self._state.record(
            ProcessedEntry(
                name=name,
                size=observed.size,
                mtime_ns=observed.mtime_ns,
                sha256=digest,
                outcome=status.outcome,
                base=base,
                finished_at=time.time(),
            )
        )
        self.processed += 1
        log.info(
            "%s: %s -> %s (%d generated, %d cached, %d skipped, %d failed)",
            name,
            status.outcome,
            status.result or f"{base}.json",
            status.generated,
            status.cached,
            status.skipped,
            status.failed,
        )

    # -- start and stop ------------------------------------------------------------------------

    def _start_observer(self):  # type: ignore[no-untyped-def]
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        watcher = self

        class Wake(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                watcher.wake()

        kinds = [PollingObserver] if self.settings.polling_observer else [Observer, PollingObserver]
        for kind in kinds:
            observer = kind()
            try:
                observer.schedule(Wake(), str(self.settings.input_dir), recursive=True)
                observer.start()
                return observer
            except OSError as error:
                # e.g. inotify watch limits: scanning every poll interval still finds everything
                log.warning(
                    "file events unavailable (%s); scanning every %.1f s",
                    error,
                    self.settings.poll_s,
                )
        return None

    def _drain(self, grace_s: float) -> None:
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            with self._lock:
                if not self._in_flight:
                    return
            time.sleep(0.05)
        with self._lock:
            waiting = sorted(self._in_flight)
        if waiting:
            log.info("cancelling %s after %.0f s of shutdown grace", ", ".join(waiting), grace_s)
            self._cancel.set()


def _marked_done(path: Path, current: Signature) -> bool:
    """A `<name>.done` sidecar written after the entry's last change (a sidecar left from an
    earlier export does not vouch for a new one still being written)."""
    try:
        return done_marker(path).stat().st_mtime_ns >= current.mtime_ns
    except OSError:
        return False


def _prune_audio(audio_dir: Path, keep: tuple[Path, ...]) -> None:
    """Remove audio an earlier version of the same input left that this result no longer uses."""
    kept = {path.name for path in keep}
    if not audio_dir.is_dir():
        return
    for path in audio_dir.iterdir():
        if path.suffix.lower() in AUDIO_SUFFIXES and path.name not in kept and path.is_file():
            path.unlink(missing_ok=True)


def _status(
    name: str,
    digest: str,
    runner: str,
    outcome: JobOutcome | None,
    errors: list[str],
    result_path: Path | None,
    started: float,
) -> JobStatus:
    finished = time.time()
    if outcome is None:
        return JobStatus(
            input=name,
            input_sha256=digest,
            outcome="failed",
            runner=runner,
            result=None,
            result_format=None,
            audio_dir=None,
            engine="",
            preset="",
            generated=0,
            cached=0,
            skipped=0,
            failed=0,
            problems=(),
            errors=tuple(errors),
            notes=(),
            started_at=timestamp(started),
            finished_at=timestamp(finished),
            elapsed_s=round(finished - started, 3),
        )
    audio_dir = result_path.with_name(f"{Path(result_path).stem}_audio") if result_path else None
    return JobStatus(
        input=name,
        input_sha256=digest,
        outcome=outcome_of(outcome) if result_path is not None else "failed",
        runner=runner,
        result=result_path.name if result_path else None,
        result_format=outcome.result_format,
        audio_dir=audio_dir.name if audio_dir is not None and audio_dir.is_dir() else None,
        engine=outcome.engine,
        preset=outcome.preset,
        generated=outcome.generated,
        cached=outcome.cached,
        skipped=outcome.skipped,
        failed=outcome.failed,
        problems=outcome.problems,
        errors=tuple(errors) or (() if result_path else ("no result timeline was written",)),
        notes=outcome.notes,
        started_at=timestamp(started),
        finished_at=timestamp(finished),
        elapsed_s=round(finished - started, 3),
    )
