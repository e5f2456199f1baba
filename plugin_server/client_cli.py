"""`foley-client`: talk to a Foley server from a terminal.

    foley-client generate edit.otio -o edit_foley.otio --server 127.0.0.1:50051 --prompt steps
    foley-client capabilities --server 127.0.0.1:50051
    foley-client plan edit.otio --server 127.0.0.1:50051
    foley-client cancel JOB_ID --server 127.0.0.1:50051

`generate` shows a live progress bar per clip and for the whole job on stderr, writes the audio
beside the output (`<OUT stem>_audio/`, or --audio-dir) and the result timeline at OUT.
Exit status: 0 all clips done, 1 some clips failed or none got audio, 2 bad input or refused,
3 server unreachable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

import grpc
import yaml

from plugin_server.client import (
    ClientTls,
    FoleyClient,
    FoleyClientError,
    GenerateOptions,
    message_to_dict,
)
from plugin_server.progress import ProgressDisplay
from plugin_server.proto_gen.foley.v1 import foley_pb2 as pb
from timeline.errors import TimelineError
from timeline.output_rules import OutputPlan, plan_output
from timeline.relink import parse_prefix_map

SERVER_ENV = "FOLEY_SERVER"
TOKEN_ENV = "FOLEY_AUTH_TOKEN"


class UsageError(ValueError):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="foley-client", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    generate = commands.add_parser("generate", help="generate Foley for a timeline")
    generate.add_argument("timeline", type=Path, help="local timeline file")
    generate.add_argument("-o", "--output", type=Path, required=True, help="result timeline")
    generate.add_argument(
        "--audio-dir", type=Path, help="where the audio goes (default: <OUT stem>_audio/)"
    )
    _add_generation_options(generate)
    generate.add_argument(
        "--server-output",
        metavar="DIR",
        help="have the server write the audio under its output root in DIR instead",
    )
    generate.add_argument(
        "--busy-retries", type=int, default=3, help="retries when the server is busy (default 3)"
    )
    generate.add_argument("--quiet", action="store_true", help="no progress display")
    plan = commands.add_parser("plan", help="show the plan and estimates without generating")
    plan.add_argument("timeline", type=Path, help="local timeline file")
    _add_generation_options(plan)
    capabilities = commands.add_parser("capabilities", help="engines, presets, devices, limits")
    cancel = commands.add_parser("cancel", help="stop a running job")
    cancel.add_argument("job_id", help="the job id `generate` printed (or its progress header)")
    _add_install_resolve_script(commands)
    for sub in (generate, plan, capabilities, cancel):
        _add_connection_options(sub)
    for sub in (plan, capabilities):
        sub.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _add_install_resolve_script(commands: Any) -> None:
    install = commands.add_parser(
        "install-resolve-script",
        help="copy the Foley script into DaVinci Resolve's Scripts folder (docs/resolve.md)",
    )
    install.add_argument(
        "--dest", type=Path, metavar="DIR", help="this folder instead of Resolve's Utility folder"
    )
    install.add_argument(
        "--all-users", action="store_true", help="the all-users folder (needs an administrator)"
    )
    install.add_argument("--dry-run", action="store_true", help="say where, write nothing")


def _install_resolve_script(args: argparse.Namespace) -> int:
    from plugin_server.integrations.resolve.install import InstallError, install

    try:
        result = install(args.dest, all_users=args.all_users, dry_run=args.dry_run)
    except InstallError as error:
        print(f"foley-client install-resolve-script: {error}", file=sys.stderr)
        return 2
    verb = {"installed": "would install", "updated": "would update"} if result.dry_run else {}
    print(f"{verb.get(result.action, result.action)}: {result.path}")
    if result.action != "unchanged" and not result.dry_run:
        print("Restart DaVinci Resolve, then run Workspace > Scripts > Foley.")
    return 0


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--server",
        default=os.environ.get(SERVER_ENV, "127.0.0.1:50051"),
        help=f"HOST:PORT (default ${SERVER_ENV} or 127.0.0.1:50051)",
    )
    group.add_argument("--token-file", type=Path, help=f"bearer token file (or set {TOKEN_ENV})")
    group.add_argument("--tls", action="store_true", help="use TLS with the system's CAs")
    group.add_argument("--tls-ca", type=Path, help="CA certificate that signed the server's")
    group.add_argument("--tls-cert", type=Path, help="client certificate (mTLS)")
    group.add_argument("--tls-key", type=Path, help="client key (mTLS)")
    group.add_argument("--timeout", type=float, help="give up after this many seconds")


def _add_generation_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("generation")
    group.add_argument("--engine", default="", help="engine (default: the server's)")
    group.add_argument("--preset", default="", help="preset name (default: the server's)")
    group.add_argument("--prompt", default="", help="prompt for every clip")
    group.add_argument("--negative-prompt", default="", help="what the sound should not have")
    group.add_argument("--seed", type=int, help="generation seed (default: the server's)")
    group.add_argument("--steps", type=int, help="sampler steps")
    group.add_argument("--guidance", type=float, help="guidance scale")
    group.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a preset parameter, e.g. --param frame_sampling_rate=4 (repeatable)",
    )
    group.add_argument("--track", action="append", default=[], help="V1, 1 or a track name")
    group.add_argument("--handles", type=int, default=0, help="extra frames each side")
    group.add_argument(
        "--container", choices=("wav", "flac"), default="wav", help="audio files (default wav)"
    )
    group.add_argument(
        "--sample-format",
        choices=("pcm24", "float32"),
        default="pcm24",
        help="audio samples (default pcm24)",
    )
    group.add_argument(
        "--channels", type=int, choices=(1, 2), default=1, help="audio channels (default 1)"
    )
    group.add_argument(
        "--loudness", type=float, metavar="LUFS", help="normalise each clip to this loudness"
    )
    group.add_argument("--format", dest="result_format", default="", help="result format")
    group.add_argument("--input-format", default="", help="the timeline's format")
    group.add_argument(
        "--timeline-name",
        default="",
        help="which timeline of a file that holds several (`plan` lists them)",
    )
    group.add_argument(
        "--media-root",
        action="append",
        default=[],
        metavar="DIR",
        help="server folder (under its media roots) to search for media (repeatable)",
    )
    group.add_argument(
        "--media-map",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="replace the path prefix OLD written in the timeline by the server folder NEW "
        "(repeatable); also picks one file when several have the clip's media name",
    )
    group.add_argument("--no-cache", action="store_true", help="regenerate every clip")


def _options(args: argparse.Namespace) -> GenerateOptions:
    parameters: dict[str, Any] = {}
    for text in args.param:
        key, separator, value = text.partition("=")
        if not separator or not key.strip():
            raise UsageError(f"--param {text!r} is not KEY=VALUE")
        parameters[key.strip()] = yaml.safe_load(value) if value.strip() else None
    if args.steps is not None:
        parameters["diffusion_timesteps"] = args.steps
    if args.guidance is not None:
        parameters["guidance_scale"] = args.guidance
    try:
        maps = [parse_prefix_map(text) for text in args.media_map]
    except TimelineError as error:
        raise UsageError(f"--media-map: {error}") from error
    return GenerateOptions(
        engine=args.engine,
        preset=args.preset,
        parameters=parameters,
        prompt=args.prompt,
        negative_prompt=args.negative_prompt,
        seed=args.seed,
        tracks=tuple(args.track),
        handles_frames=args.handles,
        container=args.container,
        sample_format=args.sample_format,
        channels=args.channels,
        loudness_target_lufs=args.loudness,
        result_format=args.result_format,
        media_search_dirs=tuple(args.media_root),
        media_maps=tuple(maps),
        skip_cache=args.no_cache,
        server_output_dir=getattr(args, "server_output", None),
    )


def _client(args: argparse.Namespace) -> FoleyClient:
    token = os.environ.get(TOKEN_ENV)
    if args.token_file is not None:
        try:
            token = args.token_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise UsageError(f"--token-file {args.token_file}: {error.strerror}") from error
    tls = None
    if args.tls or args.tls_ca or args.tls_cert or args.tls_key:
        if bool(args.tls_cert) != bool(args.tls_key):
            raise UsageError("--tls-cert and --tls-key go together")
        tls = ClientTls(ca_file=args.tls_ca, cert_file=args.tls_cert, key_file=args.tls_key)
    return FoleyClient(args.server, token=token or None, tls=tls)


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("foley-backend")
    except PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "install-resolve-script":  # no server involved
        return _install_resolve_script(args)
    try:
        with _client(args) as client:
            status = _COMMANDS[args.command](client, args)
        sys.stdout.flush()  # here, where a reader gone away (`| head`) can still be handled
        return status
    except BrokenPipeError:
        from plugin_server.cli import exit_on_broken_pipe

        return exit_on_broken_pipe()
    except UsageError as error:
        print(f"foley-client: {error}", file=sys.stderr)
        return 2
    except FoleyClientError as error:
        print(f"foley-client: {error}{_hint(error, args.server)}", file=sys.stderr)
        if error.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            return 3
        return 2


def _hint(error: FoleyClientError, server: str) -> str:
    """What to check when no server could be reached (gRPC's own text names no remedy)."""
    if error.code != grpc.StatusCode.UNAVAILABLE or "connect" not in str(error).lower():
        return ""
    return (
        f"\n  no Foley server answered at {server}: check the address (--server or "
        f"${SERVER_ENV}) and that `foley-server serve` is running there and reachable"
    )


def _generate(client: FoleyClient, args: argparse.Namespace) -> int:
    output_plan = _checked_output(args)
    display = None if args.quiet else ProgressDisplay()
    cancel = threading.Event()
    try:
        result = client.generate(
            args.timeline,
            args.output,
            _options(args),
            audio_dir=args.audio_dir,
            on_event=progress_feed(display) if display else None,
            cancel=cancel,
            timeout_s=args.timeout,
            timeline_format=args.input_format,
            timeline_name=args.timeline_name,
            busy_retries=args.busy_retries,
        )
    except KeyboardInterrupt:
        cancel.set()
        print("\nfoley-client: cancelled; the server stops the job", file=sys.stderr)
        return 130
    finally:
        if display is not None:
            display.close()
    summary = result.summary
    print(f"result timeline: {result.timeline_path}")
    for note in output_plan.notes:
        print(f"                 ({note})")
    if result.audio_files:
        folders = sorted({str(audio.path.parent) for audio in result.audio_files.values()})
        print(f"audio files:     {', '.join(folders)}")
    print(
        f"clips: {summary.clips_generated} generated, {summary.clips_cached} from cache, "
        f"{summary.clips_skipped} skipped, {summary.clips_failed} failed "
        f"in {summary.elapsed_s:.1f} s (job {summary.job_id})"
    )
    for problem in result.problems:
        if problem.kind != pb.PROBLEM_KIND_SKIPPED:
            print(f"  {pb.ProblemKind.Name(problem.kind)}: {problem.reason}", file=sys.stderr)
    if summary.clips_generated + summary.clips_cached == 0:
        print("foley-client: no clip got audio", file=sys.stderr)
        return 1
    return 1 if summary.clips_failed or summary.clips_cancelled else 0


def _checked_output(args: argparse.Namespace) -> OutputPlan:
    """The output rules (timeline.output_rules), applied before the job is sent."""
    try:
        return plan_output(
            args.output,
            timeline=args.timeline,
            requested_format=args.result_format or None,
            input_format=args.input_format or None,
        )
    except TimelineError as error:
        raise UsageError(str(error)) from error


def progress_feed(display: ProgressDisplay):  # type: ignore[no-untyped-def]
    def on_event(event: pb.GenerateFoleyResponse) -> None:
        kind = event.WhichOneof("event")
        if kind == "accepted":
            plan = event.accepted.plan
            # Every clip of the job from the start, those refused at planning included, so the
            # total never grows; one label form (V<n> <clip>) for all of them.
            display.start(
                [(c.clip_id, clip_label(c.track_index, c.name)) for c in plan.clips]
                + [(p.clip_id, clip_label(p.track_index, p.name)) for p in plan.problems],
                header=f"job {event.accepted.job_id}: {len(plan.clips)} clips, engine "
                f"{plan.engine}, preset {plan.preset}, about {plan.estimated_seconds:.0f} s",
            )
        elif kind == "progress":
            display.progress(event.progress.clip_id, event.progress.stage, event.progress.percent)
        elif kind == "clip_result":
            result = event.clip_result
            how = "from cache" if result.from_cache else f"{result.report.elapsed_s:.1f} s"
            words = _prompt_words(result.report.parameters)
            display.finished(result.clip_id, f"{how} -> {result.file_name}{words}")
        elif kind == "clip_problem":
            problem = event.clip_problem
            kind_name = pb.ProblemKind.Name(problem.kind).removeprefix("PROBLEM_KIND_").lower()
            label = clip_label(problem.track_index, problem.name)
            display.finished(problem.clip_id, f"{kind_name}: {problem.reason}", label)

    return on_event


def clip_label(track_index: int, name: str) -> str:
    """How progress lines name a clip: its video track as editors say it (V1), and its name."""
    return f"V{track_index} {name}".strip() if track_index else name or "clip"


def _plan(client: FoleyClient, args: argparse.Namespace) -> int:
    plan = client.plan(
        args.timeline,
        _options(args),
        timeout_s=args.timeout,
        timeline_format=args.input_format,
        timeline_name=args.timeline_name,
    )
    if args.json:
        print(json.dumps(message_to_dict(plan), indent=2))
        return 0
    print(
        f"{plan.timeline_name or args.timeline.name} ({plan.timeline_format}): "
        f"{len(plan.clips)} clips to generate, {len(plan.problems)} not"
    )
    print(f"engine {plan.engine} ({plan.model}) on {plan.device}, preset {plan.preset}")
    for clip in plan.clips:
        cached = "  cached" if clip.cached else ""
        print(
            f"  V{clip.track_index} {clip.record_timecode}  {clip.duration_s:7.2f} s  "
            f"~{clip.estimated_seconds:6.1f} s  {clip.estimated_memory_bytes / 2**20:8.0f} MiB  "
            f"{clip.name}{cached}"
        )
    for problem in plan.problems:
        print(f"  {pb.ProblemKind.Name(problem.kind)}: {problem.reason}")
    for note in plan.notes:
        print(f"note: {note}")
    print(
        f"estimated {plan.estimated_seconds:.1f} s, peak "
        f"{plan.estimated_peak_memory_bytes / 2**30:.2f} GiB per clip"
    )
    return 0


def _capabilities(client: FoleyClient, args: argparse.Namespace) -> int:
    capabilities = client.capabilities(timeout_s=args.timeout)
    if args.json:
        print(json.dumps(message_to_dict(capabilities), indent=2))
        return 0
    print(
        f"server {capabilities.server_version}: default engine "
        f"{capabilities.default_engine}, preset {capabilities.default_preset}"
    )
    for engine in capabilities.engines:
        state = "available" if engine.available else f"unavailable: {engine.reason}"
        print(f"  engine {engine.name} ({engine.model}) on {engine.device}: {state}")
        for library in engine.libraries:
            print(
                f"    library {library.path}: {library.files} files, "
                f"{library.bytes / 1e9:.2f} GB, {library.duration_seconds / 3600:.1f} h"
                + (f", {library.skipped_files} skipped" if library.skipped_files else "")
            )
    for preset in capabilities.presets:
        print(f"  preset {preset.name}: {preset.description}")
    for device in capabilities.devices:
        print(
            f"  device {device.name} ({device.description}): "
            f"{device.free_memory_bytes / 2**30:.1f} of {device.total_memory_bytes / 2**30:.1f} "
            "GiB free"
        )
    limits = capabilities.limits
    print(
        f"  formats {', '.join(capabilities.timeline_formats)}; {limits.workers} workers, "
        f"{limits.max_queued_jobs} jobs, {limits.max_clips_per_job} clips per job, "
        f"{limits.max_message_bytes / 2**20:.0f} MiB messages"
    )
    return 0


def _cancel(client: FoleyClient, args: argparse.Namespace) -> int:
    found = client.cancel(args.job_id, timeout_s=args.timeout)
    print("cancelling" if found else f"no running job {args.job_id}")
    return 0 if found else 1


_COMMANDS = {
    "generate": _generate,
    "plan": _plan,
    "capabilities": _capabilities,
    "cancel": _cancel,
}


def _prompt_words(parameters) -> str:  # type: ignore[no-untyped-def]
    """The words a clip's prompt used and ignored, as "; words used: ...; ignored: ...", from
    its report's parameters (a protobuf Struct) when the engine lists them (procedural)."""
    fields = parameters.fields
    if "matched_words" not in fields and "ignored_words" not in fields:
        return ""

    def words(name: str) -> list[str]:
        value = fields.get(name)
        return [] if value is None else [item.string_value for item in value.list_value.values]

    used, ignored = words("matched_words"), words("ignored_words")
    text = f"; words used: {', '.join(used) or '(none)'}"
    return text + (f"; ignored: {', '.join(ignored)}" if ignored else "")


if __name__ == "__main__":
    sys.exit(main())
