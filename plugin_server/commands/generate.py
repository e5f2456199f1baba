"""`foley-server generate TIMELINE -o OUT`: the server's pipeline, in this process.

Audio files go in `<OUT stem>_audio/` beside OUT unless --audio-dir says otherwise; the result
timeline refers to them. Exit status: 0 when every clip got audio (skipped clips aside), 1 when
some clips failed (the result holds the others) or no clip got audio, 2 for unusable input or
options.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path

from plugin_server.commands._options import (
    OptionError,
    add_engine_arguments,
    add_generation_arguments,
    add_media_arguments,
    engine_choice,
    generation_request,
    media_maps,
    media_roots,
)
from plugin_server.executors.options import add_executor_arguments, executor_settings

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("timeline", type=Path, help="timeline file (OTIO, XML, FCPXML, AAF, EDL)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="result timeline path")
    parser.add_argument(
        "--audio-dir", type=Path, help="where the audio files go (default: <OUT stem>_audio/)"
    )
    parser.add_argument("--format", dest="result_format", help="result timeline format")
    parser.add_argument("--input-format", help="the timeline's format when guessing fails")
    parser.add_argument("--timeline-name", help="which timeline of a file that holds several")
    add_engine_arguments(parser, default_preset="default")
    add_media_arguments(parser, root_help="folder searched for media by base name (repeatable)")
    add_executor_arguments(parser)
    add_generation_arguments(parser)
    cache = parser.add_argument_group("cache")
    cache.add_argument("--cache-dir", type=Path, help="result cache folder (default: none)")
    cache.add_argument("--workers", type=int, help="CPU workers (GPUs get one each)")
    parser.add_argument("--quiet", action="store_true", help="no progress display")


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except OptionError as error:
        print(f"foley-server generate: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from plugin_server.engines.base import EngineError
    from plugin_server.engines.registry import EngineConfig
    from plugin_server.executors import ExecutorUnavailable
    from plugin_server.pipeline.devices import DeviceUnavailable
    from plugin_server.pipeline.errors import PipelineError
    from plugin_server.pipeline.local import LocalRun
    from plugin_server.planning.fallback import with_oom_fallback
    from plugin_server.presets import PresetError
    from timeline.errors import TimelineError

    choice = engine_choice(args)
    media_roots(args)  # refused before any work starts, as `serve` does
    output_plan = _checked_output(args)
    output = args.output.resolve()
    audio_dir = (args.audio_dir or output.parent / f"{output.stem}_audio").resolve()
    try:
        request = generation_request(
            args, choice, use_cache=args.cache_dir is not None, result_format=args.result_format
        )
        local = LocalRun(
            engine_config=EngineConfig(
                weights_dir=choice.weights_dir,
                device=choice.device,
                options=choice.engine_options,
            ),
            engine_factory=with_oom_fallback,
            device=choice.device,
            workers=args.workers,
            cache_dir=args.cache_dir.resolve() if args.cache_dir else None,
            executor=executor_settings(args),
        )
    except (PipelineError, DeviceUnavailable, ExecutorUnavailable) as error:
        raise OptionError(str(error)) from error
    progress = None if args.quiet else _progress_printer()
    cancel = threading.Event()
    try:
        with local:
            try:
                result = _generate(local, args, request, output, audio_dir, progress, cancel)
            except KeyboardInterrupt:
                cancel.set()  # before the pool waits for its running clips: they stop now
                print("\nfoley-server generate: cancelled", file=sys.stderr)
                return 130
    except (PipelineError, TimelineError, PresetError, EngineError) as error:
        print(f"foley-server generate: {error}", file=sys.stderr)
        return 2
    summary = result.summary
    print(f"result timeline: {output}")
    for note in output_plan.notes:
        print(f"                 ({note})")
    print(f"audio files:     {audio_dir}")
    print(
        f"clips: {summary.clips_generated} generated, {summary.clips_cached} from cache, "
        f"{summary.clips_skipped} skipped, {summary.clips_failed} failed "
        f"in {summary.elapsed_s:.1f} s"
    )
    if summary.clips_generated + summary.clips_cached == 0:
        print("foley-server generate: no clip got audio", file=sys.stderr)
        return 1
    return 1 if summary.clips_failed or summary.clips_cancelled else 0


def _checked_output(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The output rules (timeline.output_rules), applied before the job starts."""
    from timeline.errors import TimelineError
    from timeline.output_rules import plan_output

    try:
        return plan_output(
            args.output,
            timeline=args.timeline,
            requested_format=args.result_format,
            input_format=args.input_format,
        )
    except TimelineError as error:
        raise OptionError(str(error)) from error


def _generate(local, args, request, output, audio_dir, progress, cancel):  # type: ignore[no-untyped-def]
    return local.generate(
        args.timeline,
        request,
        output=output,
        audio_dir=audio_dir,
        media_roots=media_roots(args),
        media_maps=media_maps(args),
        input_format=args.input_format,
        timeline_name=args.timeline_name,
        on_event=progress,
        cancel=cancel,
    )


def _prompt_words(report) -> str:  # type: ignore[no-untyped-def]
    """The words a clip's prompt used and ignored, as "; words used: ...; ignored: ...", when
    the engine's report lists them (procedural)."""
    used = report.parameters.get("matched_words")
    ignored = report.parameters.get("ignored_words")
    if used is None and ignored is None:
        return ""
    text = f"; words used: {', '.join(used) or '(none)'}"
    return text + (f"; ignored: {', '.join(ignored)}" if ignored else "")


def _progress_printer():  # type: ignore[no-untyped-def]
    from plugin_server.pipeline.events import (
        ClipFailed,
        ClipFinished,
        ClipProgressed,
        JobFinished,
        JobStarted,
    )
    from plugin_server.progress import ProgressDisplay

    display = ProgressDisplay()

    def on_event(event) -> None:  # type: ignore[no-untyped-def]
        if isinstance(event, JobStarted):
            plan = event.plan
            # Every clip from the start (refused ones too), so the total never grows.
            display.start(
                [(c.clip_id, f"V{c.track_index} {c.name}") for c in plan.clips]
                + [(p.clip_id, f"V{p.track_index} {p.name}") for p in plan.problems],
                header=f"{len(plan.clips)} clips, engine {plan.engine}, preset {plan.preset}",
            )
        elif isinstance(event, ClipProgressed):
            display.progress(event.clip_id, event.stage, event.percent)
        elif isinstance(event, ClipFinished):
            outcome = event.outcome
            how = "from cache" if outcome.from_cache else f"generated in {outcome.elapsed_s:.1f} s"
            display.finished(
                outcome.clip_id, f"{how} -> {outcome.file_name}{_prompt_words(outcome.report)}"
            )
        elif isinstance(event, ClipFailed):
            problem = event.problem
            label = f"V{problem.track_index} {problem.name}"
            display.finished(problem.clip_id, f"{problem.kind.value}: {problem.reason}", label)
        elif isinstance(event, JobFinished):
            display.close()

    return on_event
