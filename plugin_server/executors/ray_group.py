"""The front end's side of the actors: starting them, calling them, replacing the dead.

Every clip call goes through `ActorGroup.call`, which sends it to an actor, relays the actor's
progress while it waits, passes a cancel on to the actor, and, when the actor or its node dies
mid-clip, starts a replacement for that actor and sends the call to another one, at most
`max_retries` more times. Where actors are placed is Ray's business; this module only says how
many there are and what each needs (one GPU, or one CPU).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

import ray
from ray.exceptions import (
    GetTimeoutError,
    NodeDiedError,
    ObjectLostError,
    RayActorError,
    RayError,
    RayTaskError,
    TaskCancelledError,
    WorkerCrashedError,
)

from plugin_server.engines.base import (
    Cancelled,
    CancelToken,
    EngineError,
    EngineInfo,
    EngineUnavailable,
    ProgressCallback,
)
from plugin_server.engines.registry import EngineConfig
from plugin_server.executors.base import ExecutorUnavailable, RaySettings
from plugin_server.executors.local import EngineFactory
from plugin_server.executors.ray_actor import CONCURRENCY_GROUPS, ActorDescription, FoleyActor
from plugin_server.planning.device import DeviceCapacity

log = logging.getLogger(__name__)

# Replies to progress, cancel and description calls come from the actor's control threads, in
# milliseconds; a reply this late means the actor is not answering.
_CONTROL_TIMEOUT_S = 10.0
# After a cancel reached an actor, how long its clip may take to notice it; past this the clip
# is reported cancelled anyway and the actor finishes it unobserved.
_CANCEL_GRACE_S = 30.0


class _ActorNotStarted(RayError):
    """A (re)started actor was not placed on a node in time; its clip goes elsewhere."""


# Failures of the actor or its node, not of the clip: the clip is retried on another actor.
_LOST = (RayActorError, WorkerCrashedError, NodeDiedError, ObjectLostError, _ActorNotStarted)


@dataclass(frozen=True)
class ActorKind:
    """How many actors to run and what each holds: one GPU (`gpus` 1) or one CPU (`gpus` 0).
    `device` is the engine device inside the actor."""

    count: int
    gpus: int
    device: str


@dataclass(frozen=True)
class CallRecord:
    """Which actor answered a call, and why earlier attempts (if any) were lost."""

    actor: str
    lost: tuple[str, ...] = ()


@dataclass(frozen=True)
class ActorStats:
    """One actor slot's record: clips it answered and actors it lost (replaced since)."""

    name: str
    node_ip: str
    device: str
    clips: int
    lost: int


class _Slot:
    """One actor position; its handle changes when the actor is replaced."""

    def __init__(self, index: int, name: str) -> None:
        self.index = index
        self.name = name
        self.incarnation = 0
        self.handle: Any = None
        self.ready: Any = None  # ObjectRef of describe(), resolved once the actor runs
        self.description: ActorDescription | None = None
        self.in_flight = 0
        self.clips = 0
        self.lost = 0

    @property
    def label(self) -> str:
        return self.description.label if self.description else f"{self.name} (starting)"


class ActorGroup:
    """`kind.count` FoleyActors and the calls made to them; thread-safe."""

    def __init__(
        self,
        kind: ActorKind,
        engine_factory: EngineFactory,
        engine_config: EngineConfig,
        settings: RaySettings,
    ) -> None:
        self.kind = kind
        self._settings = settings
        self._actor_class = ray.remote(concurrency_groups=CONCURRENCY_GROUPS)(FoleyActor)
        # Shared by every actor (and replacement): put in the object store once.
        self._engine_factory = ray.put(engine_factory)
        self._engine_config = ray.put(engine_config)
        self._lock = threading.Lock()
        self._engine_infos: dict[str, EngineInfo] = {}
        token = uuid.uuid4().hex[:6]
        self._slots = [_Slot(index, f"foley-{token}-{index}") for index in range(kind.count)]
        for slot in self._slots:
            self._spawn(slot)

    @property
    def slot_names(self) -> tuple[str, ...]:
        return tuple(slot.name for slot in self._slots)

    def _spawn(self, slot: _Slot) -> None:
        """Start the actor of `slot` (its next incarnation); the caller holds the lock or is
        the constructor."""
        name = slot.name if slot.incarnation == 0 else f"{slot.name}.{slot.incarnation}"
        slot.handle = self._actor_class.options(
            name=name,
            num_cpus=1,
            num_gpus=self.kind.gpus,
            # Replacement and retry are done here, where the job can be told; Ray's own would
            # retry on the same actor, unseen.
            max_restarts=0,
            max_task_retries=0,
        ).remote(name, self._engine_factory, self._engine_config)
        slot.ready = slot.handle.describe.remote()
        slot.description = None

    def wait_started(self, timeout_s: float) -> None:
        """Wait for the actors to start; raises ExecutorUnavailable when none did in time or
        one failed to start (that is a deployment error, not a lost node)."""
        refs = [slot.ready for slot in self._slots]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
        for slot in self._slots:
            if slot.ready not in ready:
                continue
            try:
                slot.description = ray.get(slot.ready)
            except RayError as error:
                raise ExecutorUnavailable(
                    f"Ray actor {slot.name} failed to start: {error}; check that every node "
                    "runs the same foley-server image"
                ) from error
        started = [slot for slot in self._slots if slot.description is not None]
        if not started:
            need = f"{self.kind.gpus} GPU and 1 CPU" if self.kind.gpus else "1 CPU"
            raise ExecutorUnavailable(
                f"no Ray actor started within {timeout_s:g} s; each needs {need}, the cluster "
                f"has {ray.cluster_resources()}; add nodes or ask for fewer actors"
            )
        if len(started) < len(self._slots):
            log.warning(
                "%d of %d Ray actors started within %g s; the others start when the cluster "
                "has room",
                len(started),
                len(self._slots),
                timeout_s,
            )
        for slot in started:
            log.info("Ray actor %s ready (%s)", slot.label, self.kind.device)

    # -- clip calls ----------------------------------------------------------------------------

    def call(
        self,
        slot_index: int,
        method: str,
        args: tuple[Any, ...],
        *,
        clip_label: str,
        progress: ProgressCallback,
        cancel: CancelToken,
    ) -> tuple[Any, CallRecord]:
        """Call actor `method(*args, key)` for one clip on slot `slot_index`'s actor (another
        one after a loss); returns its result and who answered. Raises what the clip raised
        (EngineError, MediaError, Cancelled...), or EngineError when too many actors were lost."""
        lost: list[str] = []
        while True:
            slot = self._slots[slot_index]
            with self._lock:
                incarnation, handle, ready = slot.incarnation, slot.handle, slot.ready
                slot.in_flight += 1
            try:
                self._wait_started(slot, incarnation, ready, cancel)
                result = self._await(handle, method, args, progress, cancel)
            except _LOST as error:
                if isinstance(error, _ActorNotStarted):
                    reason = str(error)
                else:
                    reason = f"Ray actor {slot.label} was lost mid-clip ({type(error).__name__})"
                    self._replace(slot, incarnation)
                if cancel.is_set():
                    raise Cancelled(f"cancelled ({reason})") from error
                lost.append(reason)
                if len(lost) > self._settings.max_retries:
                    raise EngineError(
                        f"{clip_label}: {len(lost)} attempts lost their Ray actor; giving up "
                        f"(last: {error}). Check the cluster's nodes and their logs"
                    ) from error
                slot_index = self._other_slot(slot.index)
                log.warning(
                    "%s: %s; retry %d of %d on %s",
                    clip_label,
                    reason,
                    len(lost),
                    self._settings.max_retries,
                    self._slots[slot_index].name,
                )
                progress(f"retry {len(lost)}/{self._settings.max_retries}", 0.0)
                continue
            finally:
                with self._lock:
                    slot.in_flight -= 1
            with self._lock:
                slot.clips += 1
            return result, CallRecord(actor=slot.label, lost=tuple(lost))

    def _wait_started(self, slot: _Slot, incarnation: int, ready: Any, cancel: CancelToken) -> None:
        """Wait until incarnation `incarnation` of `slot`'s actor runs (normally it does
        already); `ready` is its describe() reference."""
        if slot.description is not None and slot.incarnation == incarnation:
            return
        deadline = time.monotonic() + self._settings.actor_start_timeout_s
        while not ray.wait([ready], timeout=self._settings.poll_interval_s)[0]:
            if cancel.is_set():
                raise Cancelled(f"cancelled while Ray actor {slot.name} was starting")
            if time.monotonic() > deadline:
                raise _ActorNotStarted(
                    f"Ray actor {slot.name} was not placed within "
                    f"{self._settings.actor_start_timeout_s:g} s"
                )
        description = ray.get(ready)  # raises RayActorError when it died starting
        with self._lock:
            if slot.incarnation == incarnation:
                slot.description = description

    def _await(
        self,
        handle: Any,
        method: str,
        args: tuple[Any, ...],
        progress: ProgressCallback,
        cancel: CancelToken,
    ) -> Any:
        """Send the call and wait for it, relaying progress and a cancel."""
        key = uuid.uuid4().hex
        ref = getattr(handle, method).remote(*args, key)
        last_state: tuple[str, float] | None = None
        cancelled_at: float | None = None
        while True:
            ready, _ = ray.wait([ref], timeout=self._settings.poll_interval_s)
            if ready:
                return _result(ref)
            if cancel.is_set() and cancelled_at is None:
                handle.cancel.remote(key)  # a running clip stops at its next stage
                ray.cancel(ref)  # a queued one never starts
                cancelled_at = time.monotonic()
            if cancelled_at is not None:
                if time.monotonic() - cancelled_at > _CANCEL_GRACE_S:
                    raise Cancelled(
                        f"cancelled; the actor did not stop within {_CANCEL_GRACE_S:g} s"
                    )
                continue
            try:
                state = ray.get(handle.progress.remote(key), timeout=_CONTROL_TIMEOUT_S)
            except GetTimeoutError:
                continue  # a busy control thread; the next poll asks again
            if state is not None and state != last_state:
                last_state = state
                progress(*state)

    def _replace(self, slot: _Slot, incarnation: int) -> None:
        """Start a new actor in place of `slot`'s lost one (once per loss)."""
        with self._lock:
            if slot.incarnation != incarnation:
                return  # another thread saw the same loss first
            old = slot.handle
            slot.lost += 1
            slot.incarnation += 1
            self._spawn(slot)
        ray.kill(old, no_restart=True)  # a hung but living actor must not come back
        log.warning("Ray actor %s replaced after a loss (%d so far)", slot.name, slot.lost)

    def _other_slot(self, failed: int) -> int:
        """The least busy slot other than `failed`, started ones first at equal load; with a
        single slot, `failed` itself (by now a new actor)."""
        with self._lock:
            others = [slot for slot in self._slots if slot.index != failed]
            if not others:
                return failed
            chosen = min(
                others, key=lambda slot: (slot.in_flight, slot.description is None, slot.index)
            )
            return chosen.index

    # -- questions to any actor ----------------------------------------------------------------

    def engine_info(self, engine_name: str) -> EngineInfo:
        """What `engine_name` is on the actors (asked of the first that answers, once: weights
        and devices do not change while running)."""
        with self._lock:
            known = self._engine_infos.get(engine_name)
        if known is not None:
            return known
        info = self._ask_engine_info(engine_name)
        with self._lock:
            self._engine_infos[engine_name] = info
        return info

    def _ask_engine_info(self, engine_name: str) -> EngineInfo:
        errors = []
        for slot in self._slots:
            ref = slot.handle.engine_info.remote(engine_name)
            try:
                return _result(ref, timeout_s=self._settings.actor_start_timeout_s)
            except (*_LOST, GetTimeoutError) as error:
                errors.append(f"{slot.name}: {type(error).__name__}")
        raise EngineUnavailable(
            f"no Ray actor answered about engine {engine_name!r} ({'; '.join(errors)}); "
            "check the cluster"
        )

    def device_states(self) -> tuple[DeviceCapacity, ...]:
        """Each started actor's device, named `<actor>/<device>`; silent actors are left out."""
        with self._lock:
            started = [slot for slot in self._slots if slot.description is not None]
        refs = [slot.handle.device_state.remote() for slot in started]
        states = []
        for slot, ref in zip(started, refs, strict=True):
            try:
                capacity = ray.get(ref, timeout=_CONTROL_TIMEOUT_S)
            except (RayError, GetTimeoutError) as error:
                log.warning("Ray actor %s did not describe its device: %s", slot.name, error)
                continue
            node = slot.description.node_ip if slot.description else "?"
            states.append(
                replace(
                    capacity,
                    name=f"{slot.name}/{capacity.name}",
                    description=f"{capacity.description}, Ray node {node}",
                )
            )
        return tuple(states)

    def stats(self) -> tuple[ActorStats, ...]:
        with self._lock:
            return tuple(
                ActorStats(
                    name=slot.name,
                    node_ip=slot.description.node_ip if slot.description else "",
                    device=self.kind.device,
                    clips=slot.clips,
                    lost=slot.lost,
                )
                for slot in self._slots
            )

    def kill_all(self) -> None:
        with self._lock:
            handles = [slot.handle for slot in self._slots]
        for handle in handles:
            ray.kill(handle, no_restart=True)


def _result(ref: Any, timeout_s: float | None = 0) -> Any:
    """The value of a finished call, raising the clip's own exception rather than Ray's
    wrapper (whose message is a remote traceback)."""
    try:
        return ray.get(ref, timeout=timeout_s)
    except TaskCancelledError as error:
        raise Cancelled("cancelled before its Ray actor started it") from error
    except RayTaskError as error:
        cause = error.cause
        if isinstance(cause, Exception) and not isinstance(cause, RayError):
            raise cause from None
        raise EngineError(f"a Ray actor call failed: {error}") from error
