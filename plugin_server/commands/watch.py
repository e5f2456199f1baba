"""`foley-server watch IN_DIR OUT_DIR`: every timeline exported into IN_DIR comes back in OUT_DIR.

AAF, FCPXML (and .fcpxmld bundles), FCP 7 XML, EDL and OTIO (.otio, .otioz, .otiod) are picked
up once complete (unchanged for --settle seconds, or a `<name>.done` sidecar) and processed once:
the result timeline in the input's format (EDL and .otiod come back as OTIO), `<base>_audio/` and
`<base>.json` (what was generated, cached, skipped or failed) appear in OUT_DIR. Runs the
pipeline in this process, or sends the timelines to a server with --server.
Exit status: 0 after a clean stop, 1 when --once left timelines unprocessed, 2 for unusable
options, 3 when the --server cannot be reached at start.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

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

TOKEN_ENV = "FOLEY_AUTH_TOKEN"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input_dir", type=Path, metavar="IN_DIR", help="folder to watch")
    parser.add_argument("output_dir", type=Path, metavar="OUT_DIR", help="where results go")
    watching = parser.add_argument_group("watching")
    watching.add_argument(
        "--settle",
        type=float,
        default=2.0,
        metavar="S",
        help="seconds a file must stay unchanged before it counts as complete (default 2)",
    )
    watching.add_argument(
        "--require-done",
        action="store_true",
        help="process a file only once its <name>.done sidecar exists",
    )
    watching.add_argument(
        "--jobs", type=int, default=2, metavar="N", help="timelines processed at once (default 2)"
    )
    watching.add_argument(
        "--poll", type=float, default=1.0, metavar="S", help="rescan interval (default 1)"
    )
    watching.add_argument(
        "--polling-observer",
        action="store_true",
        help="poll instead of OS file events (network shares that send none)",
    )
    watching.add_argument("--once", action="store_true", help="process what is there, then exit")
    watching.add_argument(
        "--shutdown-grace",
        type=float,
        default=30.0,
        metavar="S",
        help="on SIGTERM or Ctrl-C, how long jobs in flight may finish (default 30)",
    )
    add_engine_arguments(parser, default_preset="default")
    add_media_arguments(
        parser,
        root_help="folder searched for media by base name (repeatable; with --server: "
        "a folder on the server)",
    )
    add_executor_arguments(parser)
    add_generation_arguments(parser)
    cache = parser.add_argument_group("cache (in-process)")
    cache.add_argument(
        "--cache-dir", type=Path, help="result cache folder (default: OUT_DIR/.foley-cache)"
    )
    cache.add_argument("--no-cache", action="store_true", help="regenerate every clip")
    cache.add_argument("--workers", type=int, help="CPU workers (GPUs get one each)")
    remote = parser.add_argument_group("remote server")
    remote.add_argument(
        "--server", metavar="HOST:PORT", help="send the timelines to this server instead"
    )
    remote.add_argument("--token-file", type=Path, help=f"bearer token file (or set {TOKEN_ENV})")
    remote.add_argument("--tls-ca", type=Path, help="CA certificate that signed the server's")
    remote.add_argument("--tls-cert", type=Path, help="client certificate (mTLS)")
    remote.add_argument("--tls-key", type=Path, help="client key (mTLS)")


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except OptionError as error:
        print(f"foley-server watch: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from plugin_server.watch.state import WatchState, WatchStateError, remove_leftovers
    from plugin_server.watch.watcher import FolderWatcher

    settings = _settings(args)
    try:
        state = WatchState(settings.output_dir)
    except WatchStateError as error:
        raise OptionError(str(error)) from error
    remove_leftovers(settings.output_dir)
    stop = threading.Event()
    context = _RunnerContext(args, settings)
    with context as runner:
        if runner is None:
            return 3
        settings = context.settings
        watcher = FolderWatcher(settings, runner, state)
        _handle_signals(stop, watcher)
        log.info(
            "watching %s -> %s (%s, %d at once, settle %.1f s)",
            settings.input_dir,
            settings.output_dir,
            runner.describe,
            settings.jobs,
            settings.settle_s,
        )
        watcher.run(stop, once=args.once, grace_s=args.shutdown_grace)
    log.info("stopped: %d timelines processed", watcher.processed)
    return 1 if args.once and watcher.deferred else 0


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from plugin_server.watch.watcher import WatchSettings

    input_dir, output_dir = args.input_dir, args.output_dir
    if not input_dir.is_dir():
        raise OptionError(f"IN_DIR {input_dir} is not a directory")
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OptionError(f"OUT_DIR {output_dir}: {error.strerror}") from error
    input_dir, output_dir = input_dir.resolve(), output_dir.resolve()
    if input_dir == output_dir:
        raise OptionError("IN_DIR and OUT_DIR must be different folders")
    if args.jobs < 1:
        raise OptionError("--jobs must be at least 1")
    for option, value in (("--settle", args.settle), ("--poll", args.poll)):
        if not value > 0:
            raise OptionError(f"{option} must be a positive number of seconds")
    return WatchSettings(
        input_dir=input_dir,
        output_dir=output_dir,
        settle_s=args.settle,
        poll_s=args.poll,
        jobs=args.jobs,
        require_done=args.require_done,
        polling_observer=args.polling_observer,
    )


class _RunnerContext:
    """The job runner as a context manager: the in-process pool, or a client connection.
    Enters as None when the server cannot be reached. `settings` may be adjusted to the server
    (--jobs no higher than the jobs it admits at once)."""

    def __init__(self, args: argparse.Namespace, settings: Any) -> None:
        self._args = args
        self.settings = settings
        self._close: Any = None

    def __enter__(self):  # type: ignore[no-untyped-def]
        if self._args.server:
            return self._remote()
        return self._local()

    def __exit__(self, *_: object) -> None:
        if self._close is not None:
            self._close()

    def _local(self):  # type: ignore[no-untyped-def]
        from plugin_server.engines.registry import EngineConfig
        from plugin_server.executors import ExecutorUnavailable
        from plugin_server.pipeline.devices import DeviceUnavailable
        from plugin_server.pipeline.errors import PipelineError
        from plugin_server.pipeline.local import LocalRun
        from plugin_server.planning.fallback import with_oom_fallback
        from plugin_server.watch.jobs import LocalRunner

        args = self._args
        choice = engine_choice(args)
        cache_dir = None
        if not args.no_cache:
            cache_dir = (args.cache_dir or self.settings.output_dir / ".foley-cache").resolve()
        try:
            request = generation_request(args, choice, use_cache=not args.no_cache)
            local = LocalRun(
                engine_config=EngineConfig(
                    weights_dir=choice.weights_dir,
                    device=choice.device,
                    options=choice.engine_options,
                ),
                engine_factory=with_oom_fallback,
                device=choice.device,
                workers=args.workers,
                cache_dir=cache_dir,
                executor=executor_settings(args),
            )
        except (PipelineError, DeviceUnavailable, ExecutorUnavailable) as error:
            raise OptionError(str(error)) from error
        local.__enter__()
        self._close = local.__exit__
        return LocalRunner(local, request, media_roots(args), media_maps(args))

    def _remote(self):  # type: ignore[no-untyped-def]
        from plugin_server.client import ClientTls, FoleyClient, FoleyClientError
        from plugin_server.watch.jobs import RemoteRunner

        args = self._args
        for option in ("weights", "initial_noise", "lora_dir"):
            if getattr(args, option) is not None:
                flag = "--" + option.replace("_", "-")
                raise OptionError(f"{flag} names a local folder; with --server the server's own")
        choice = engine_choice(args)
        token = os.environ.get(TOKEN_ENV)
        if args.token_file is not None:
            try:
                token = args.token_file.read_text(encoding="utf-8").strip()
            except OSError as error:
                raise OptionError(f"--token-file {args.token_file}: {error.strerror}") from error
        tls = None
        if args.tls_ca or args.tls_cert or args.tls_key:
            if bool(args.tls_cert) != bool(args.tls_key):
                raise OptionError("--tls-cert and --tls-key go together")
            tls = ClientTls(ca_file=args.tls_ca, cert_file=args.tls_cert, key_file=args.tls_key)
        client = FoleyClient(args.server, token=token or None, tls=tls)
        self._close = client.close
        try:
            client.wait_until_ready(timeout_s=15.0)
            limits = client.capabilities(timeout_s=30.0).limits
        except FoleyClientError as error:
            print(f"foley-server watch: {args.server}: {error}", file=sys.stderr)
            return None
        if limits.max_queued_jobs and self.settings.jobs > limits.max_queued_jobs:
            log.info(
                "the server admits %d jobs at once; --jobs lowered to that",
                limits.max_queued_jobs,
            )
            self.settings = replace(self.settings, jobs=limits.max_queued_jobs)
        return RemoteRunner(client, _options(args, choice))


def _options(args: argparse.Namespace, choice: Any):  # type: ignore[no-untyped-def]
    from plugin_server.client import GenerateOptions

    return GenerateOptions(
        engine=choice.engine,
        preset=choice.preset,
        parameters=choice.parameters,
        prompt=args.prompt,
        negative_prompt=args.negative_prompt,
        seed=choice.seed,
        tracks=tuple(args.track),
        handles_frames=args.handles,
        container=args.container,
        sample_format=args.sample_format,
        channels=args.channels,
        loudness_target_lufs=args.loudness,
        media_search_dirs=tuple(str(root) for root in args.media_root),
        media_maps=media_maps(args),
        skip_cache=args.no_cache,
    )


def _handle_signals(stop: threading.Event, watcher: Any) -> None:
    """SIGTERM and the first Ctrl-C stop watching (jobs in flight get the grace period); a
    second one cancels the jobs in flight too."""

    def on_signal(number: int, _frame: object) -> None:
        if stop.is_set():
            log.info("stopping now: cancelling the jobs in flight")
            watcher.cancel_now()
            return
        log.info("%s: finishing the jobs in flight, then stopping", signal.Signals(number).name)
        stop.set()
        watcher.wake()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
