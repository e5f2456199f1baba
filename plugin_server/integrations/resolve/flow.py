"""What the Resolve script does, in plain Python: read the dialog's answers, call the server with
the client library, and turn the result into what Resolve imports.

Nothing here touches Resolve; `host.py` is the only module that does. `run_foley` drives a
`ResolveSide` (the real one in host.py, or any object with the same three methods), so the
whole flow runs and is tested against a real server without Resolve.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Protocol

import grpc

from plugin_server.client import FoleyClient, FoleyClientError, GenerateOptions
from plugin_server.pipeline.atomic import write_bytes_atomically
from plugin_server.proto_gen.foley.v1 import foley_pb2 as pb

log = logging.getLogger(__name__)

DEFAULT_SERVER = "127.0.0.1:50051"
SERVER_DEFAULT_LABEL = "(server default)"
# Shown when the server cannot be asked; the server refuses a name it does not know.
FALLBACK_ENGINES = ("procedural", "hunyuan")
FALLBACK_PRESETS = ("default", "light", "extreme", "reference", "auto")
MAX_HANDLES_FRAMES = 240
_SERVER_PATTERN = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$")
_UNSAFE_NAME = re.compile(r"[^\w .,()+-]+")


class ResolveScriptError(RuntimeError):
    """Something the editor must fix; the message says what, in their words."""


@dataclass(frozen=True)
class FoleyRequest:
    """The dialog's answers. Empty `engine` / `preset` mean the server's defaults."""

    server: str = DEFAULT_SERVER
    prompt: str = ""
    preset: str = ""
    engine: str = ""
    handles_frames: int = 12
    token_file: str = ""
    output_folder: str = str(Path.home() / "Foley")


@dataclass(frozen=True)
class ServerChoices:
    """What the dialog's drop-downs offer."""

    engines: tuple[str, ...]
    presets: tuple[str, ...]
    reachable: bool


@dataclass(frozen=True)
class FoleyResult:
    """A finished job, as the Resolve side needs it. `message` is for the editor."""

    timeline_path: Path
    audio_files: tuple[Path, ...]
    generated: int
    cached: int
    skipped: int
    failed: int
    problems: tuple[str, ...]
    message: str


class ResolveSide(Protocol):
    """The three things the flow needs from Resolve (host.py implements them)."""

    def timeline_name(self) -> str: ...

    def export_otio(self, path: Path) -> None: ...

    def import_result(
        self, timeline_path: Path, timeline_name: str, audio_files: tuple[Path, ...]
    ) -> str: ...


# -- the dialog's values -------------------------------------------------------------------------


def parse_request(values: Mapping[str, str]) -> FoleyRequest:
    """Validate the dialog's text fields (keys as FoleyRequest's fields); raises
    ResolveScriptError naming the field."""
    server = values.get("server", "").strip() or DEFAULT_SERVER
    if not _SERVER_PATTERN.match(server):
        raise ResolveScriptError(f"Server: {server!r} is not HOST:PORT, e.g. 127.0.0.1:50051")
    handles_text = values.get("handles_frames", "").strip() or "0"
    try:
        handles = int(handles_text)
    except ValueError:
        raise ResolveScriptError(f"Handles: {handles_text!r} is not a whole number") from None
    if not 0 <= handles <= MAX_HANDLES_FRAMES:
        raise ResolveScriptError(f"Handles: between 0 and {MAX_HANDLES_FRAMES} frames")
    token_file = values.get("token_file", "").strip()
    if token_file and not Path(token_file).expanduser().is_file():
        raise ResolveScriptError(f"Token file: {token_file} does not exist")
    output = values.get("output_folder", "").strip() or FoleyRequest.output_folder
    return FoleyRequest(
        server=server,
        prompt=values.get("prompt", "").strip(),
        preset=_choice(values.get("preset", "")),
        engine=_choice(values.get("engine", "")),
        handles_frames=handles,
        token_file=token_file,
        output_folder=str(Path(output).expanduser()),
    )


def _choice(text: str) -> str:
    text = text.strip()
    return "" if text in ("", SERVER_DEFAULT_LABEL) else text


def load_request(path: Path) -> FoleyRequest:
    """The answers remembered from the last run, or the defaults (a damaged file is ignored:
    it only holds defaults for the dialog)."""
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        known = {name: stored[name] for name in FoleyRequest.__dataclass_fields__ if name in stored}
        return replace(FoleyRequest(), **known)
    except FileNotFoundError:
        return FoleyRequest()
    except (OSError, ValueError, TypeError) as error:
        log.warning("ignoring the saved Foley settings in %s: %s", path, error)
        return FoleyRequest()


def save_request(path: Path, request: FoleyRequest) -> None:
    write_bytes_atomically(path, json.dumps(asdict(request), indent=2).encode())


def settings_path() -> Path:
    return Path.home() / ".config" / "foley-backend" / "resolve.json"


# -- the server ------------------------------------------------------------------------------------


def connect(request: FoleyRequest) -> FoleyClient:
    token = None
    if request.token_file:
        try:
            token = Path(request.token_file).expanduser().read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ResolveScriptError(f"Token file: {error.strerror}") from error
    return FoleyClient(request.server, token=token or None)


def server_choices(client: FoleyClient, timeout_s: float = 15.0) -> ServerChoices:
    """Engines and presets the server offers; the built-in names when it cannot be asked."""
    try:
        capabilities = client.capabilities(timeout_s=timeout_s)
    except FoleyClientError as error:
        log.info("no capabilities from %s: %s", client.target, error)
        return ServerChoices(
            (SERVER_DEFAULT_LABEL, *FALLBACK_ENGINES),
            (SERVER_DEFAULT_LABEL, *FALLBACK_PRESETS),
            reachable=False,
        )
    engines = [engine.name for engine in capabilities.engines if engine.available]
    presets = [preset.name for preset in capabilities.presets]
    return ServerChoices(
        (SERVER_DEFAULT_LABEL, *engines), (SERVER_DEFAULT_LABEL, *presets), reachable=True
    )


def generate(
    client: FoleyClient,
    exported: Path,
    timeline_name: str,
    request: FoleyRequest,
    *,
    on_line: Callable[[str], None] = print,
    cancel: threading.Event | None = None,
) -> FoleyResult:
    """Send the exported timeline; write the result OTIO and the audio under the output folder
    (`<folder>/<timeline>/`). Raises ResolveScriptError with a message for the editor."""
    work = Path(request.output_folder) / safe_name(timeline_name)
    options = GenerateOptions(
        engine=request.engine,
        preset=request.preset,
        prompt=request.prompt,
        handles_frames=request.handles_frames,
    )
    try:
        result = client.generate(
            exported,
            work / f"{safe_name(timeline_name)} Foley.otio",
            options,
            audio_dir=work / "audio",
            on_event=_progress_lines(on_line),
            cancel=cancel,
            busy_retries=5,
        )
    except FoleyClientError as error:
        if error.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            raise ResolveScriptError(
                f"No Foley server answered at {client.target}. Is `foley-server serve` running "
                "there, and is the address right?"
            ) from error
        if error.code == grpc.StatusCode.UNAUTHENTICATED:
            raise ResolveScriptError(
                f"The server at {client.target} refused the token: check the token file."
            ) from error
        raise ResolveScriptError(f"Foley failed: {error}") from error
    if result.timeline_path is None:
        raise ResolveScriptError("The server sent no result timeline.")
    summary = result.summary
    problems = tuple(
        f"{problem.name or problem.clip_id}: {problem.reason}"
        for problem in result.problems
        if problem.kind != pb.PROBLEM_KIND_SKIPPED
    )
    return FoleyResult(
        timeline_path=result.timeline_path,
        audio_files=tuple(sorted(audio.path for audio in result.audio_files.values())),
        generated=summary.clips_generated,
        cached=summary.clips_cached,
        skipped=summary.clips_skipped,
        failed=summary.clips_failed,
        problems=problems,
        message=_message(summary, problems),
    )


def _message(summary: pb.JobSummary, problems: tuple[str, ...]) -> str:
    done = summary.clips_generated + summary.clips_cached
    text = f"Foley for {done} clips ({summary.clips_cached} from the cache)"
    if summary.clips_skipped:
        text += f", {summary.clips_skipped} skipped"
    if problems:
        text += f"; {len(problems)} failed: " + "; ".join(problems[:3])
    return text + "."


# Problems the plan knows before anything runs: those clips are not among `clip_count`.
_PLANNED_PROBLEMS = frozenset(
    (pb.PROBLEM_KIND_SKIPPED, pb.PROBLEM_KIND_MISSING_MEDIA, pb.PROBLEM_KIND_OUTSIDE_MEDIA_ROOTS)
)


def _progress_lines(on_line: Callable[[str], None]):  # type: ignore[no-untyped-def]
    """One line per clip as it finishes, counted against the clips to generate, so that the
    console shows how far the job is (`[3/4] 75 %`)."""
    total = 0
    finished = 0

    def counted() -> str:
        nonlocal finished
        finished += 1
        percent = 100 * finished // total if total else 100
        return f"[{finished}/{total}] {min(percent, 100)} %"

    def on_event(event) -> None:  # type: ignore[no-untyped-def]
        nonlocal total
        kind = event.WhichOneof("event")
        if kind == "accepted":
            plan = event.accepted.plan
            total = event.accepted.clip_count
            on_line(f"Foley: {len(plan.clips)} clips, about {plan.estimated_seconds:.0f} s")
        elif kind == "clip_result":
            on_line(f"Foley: {counted()} done {event.clip_result.file_name}")
        elif kind == "clip_problem":
            problem = event.clip_problem
            progress = "" if problem.kind in _PLANNED_PROBLEMS else f"{counted()} "
            on_line(f"Foley: {progress}no audio for {problem.name}: {problem.reason}")

    return on_event


# -- the whole run ---------------------------------------------------------------------------------


def run_foley(
    side: ResolveSide,
    request: FoleyRequest,
    *,
    on_line: Callable[[str], None] = print,
    cancel: threading.Event | None = None,
) -> str:
    """Export the current timeline, generate, import the result; returns the message for the
    editor. Raises ResolveScriptError when something must be fixed first."""
    name = side.timeline_name()
    with tempfile.TemporaryDirectory(prefix="foley-resolve-") as folder:
        exported = Path(folder) / f"{safe_name(name)}.otio"
        side.export_otio(exported)
        with connect(request) as client:
            result = generate(client, exported, name, request, on_line=on_line, cancel=cancel)
    imported = side.import_result(result.timeline_path, f"{name} Foley", result.audio_files)
    return f"{result.message} New timeline: {imported!r}."


def unique_name(wanted: str, existing: Iterable[str]) -> str:
    """`wanted`, or `wanted 2`, `wanted 3`... whichever no timeline of the project has."""
    taken = set(existing)
    if wanted not in taken:
        return wanted
    number = 2
    while f"{wanted} {number}" in taken:
        number += 1
    return f"{wanted} {number}"


def safe_name(name: str) -> str:
    """A timeline name usable as a file name on every system."""
    cleaned = _UNSAFE_NAME.sub("_", name).strip(" .")
    return cleaned[:120] or "timeline"
