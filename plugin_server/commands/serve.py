"""`foley-server serve`: run the gRPC server until SIGTERM or Ctrl-C (then drain gracefully)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from plugin_server.commands._options import (
    OptionError,
    add_engine_arguments,
    add_media_arguments,
    engine_choice,
    media_maps,
    media_roots,
)
from plugin_server.executors.options import add_executor_arguments, executor_settings

log = logging.getLogger(__name__)

TOKEN_ENV = "FOLEY_AUTH_TOKEN"


def default_work_dir() -> Path:
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home) / "foley-server"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from plugin_server.server.config import (
        DEFAULT_HOST,
        DEFAULT_MAX_PARSE_BYTES,
        DEFAULT_PARSE_TIMEOUT_S,
        DEFAULT_PORT,
    )

    network = parser.add_argument_group("network")
    network.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})"
    )
    network.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"gRPC port, 0 = any (default {DEFAULT_PORT})",
    )
    network.add_argument(
        "--max-message-mb",
        type=float,
        default=64,
        help="largest gRPC message, and largest timeline inflated from an .otioz (default 64 MiB)",
    )
    network.add_argument(
        "--metrics-port", type=int, help="serve Prometheus metrics on this HTTP port"
    )
    network.add_argument("--metrics-host", default=DEFAULT_HOST, help="metrics bind address")
    network.add_argument(
        "--http-port",
        type=int,
        help="also serve Connect and gRPC-Web (browsers, curl) on this port of --host, 0 = any",
    )
    network.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="browser origin allowed to call the HTTP port, e.g. https://panel.example "
        "(repeatable; none by default)",
    )
    add_engine_arguments(parser, default_preset="default")
    add_media_arguments(
        parser,
        root_help="folder media and timelines may be read from; also searched for media by base "
        "name (repeatable, at least one)",
    )
    files = parser.add_argument_group("files")
    files.add_argument(
        "--output-root", type=Path, help="folder clients may have audio written under"
    )
    files.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help=f"result cache and temporary files (default {default_work_dir()})",
    )
    files.add_argument(
        "--cache-max-gb", type=float, help="prune the result cache to this size after each job"
    )
    capacity = parser.add_argument_group("capacity")
    capacity.add_argument(
        "--workers", type=int, help="CPU workers (GPUs always get one worker each)"
    )
    capacity.add_argument(
        "--max-jobs", type=int, default=16, help="jobs admitted at once (default 16)"
    )
    capacity.add_argument(
        "--max-clips-per-job", type=int, default=2000, help="clips per job (default 2000)"
    )
    capacity.add_argument(
        "--max-parse-mb",
        type=float,
        default=DEFAULT_MAX_PARSE_BYTES / (1 << 20),
        help="memory for parsing one AAF timeline, in a child process (default "
        f"{DEFAULT_MAX_PARSE_BYTES >> 20} MiB)",
    )
    capacity.add_argument(
        "--parse-timeout",
        type=float,
        default=DEFAULT_PARSE_TIMEOUT_S,
        metavar="SECONDS",
        help=f"time for parsing one AAF timeline (default {DEFAULT_PARSE_TIMEOUT_S:g})",
    )
    capacity.add_argument(
        "--shutdown-grace",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="on SIGTERM, time for jobs in flight to finish (default 30)",
    )
    add_executor_arguments(parser)
    security = parser.add_argument_group("security")
    security.add_argument(
        "--auth-token-file",
        type=Path,
        help=f"require this bearer token (file content; or set {TOKEN_ENV})",
    )
    security.add_argument("--tls-cert", type=Path, help="server certificate (PEM)")
    security.add_argument("--tls-key", type=Path, help="server private key (PEM)")
    security.add_argument(
        "--tls-client-ca", type=Path, help="require client certificates signed by this CA (mTLS)"
    )
    parser.add_argument(
        "--log-format", choices=("text", "json"), default="text", help="log line format"
    )


def build_config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """A validated ServerConfig from the command line; raises OptionError."""
    from plugin_server.server.config import ServerConfig, TlsConfig

    choice = engine_choice(args)
    roots = media_roots(args)
    if not roots:
        raise OptionError("at least one --media-root DIR is needed: media is only read there")
    token = _auth_token(args)
    tls = None
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            raise OptionError("--tls-cert and --tls-key go together")
        tls = TlsConfig(args.tls_cert, args.tls_key, args.tls_client_ca)
    elif args.tls_client_ca:
        raise OptionError("--tls-client-ca needs --tls-cert and --tls-key")
    output_root = args.output_root.resolve() if args.output_root else None
    if output_root is not None:
        output_root.mkdir(parents=True, exist_ok=True)
    try:
        return ServerConfig(
            media_roots=roots,
            work_dir=(args.work_dir or default_work_dir()).resolve(),
            output_root=output_root,
            host=args.host,
            port=args.port,
            engine=choice.engine,
            preset=choice.preset,
            device=choice.device,
            weights_dir=choice.weights_dir,
            engine_options=choice.engine_options,
            default_parameters=choice.parameters,
            default_seed=choice.seed or 0,
            media_maps=media_maps(args),
            workers=args.workers,
            max_jobs=args.max_jobs,
            max_clips_per_job=args.max_clips_per_job,
            max_message_bytes=int(args.max_message_mb * (1 << 20)),
            cache_max_bytes=int(args.cache_max_gb * (1 << 30)) if args.cache_max_gb else None,
            auth_token=token,
            tls=tls,
            metrics_port=args.metrics_port,
            metrics_host=args.metrics_host,
            http_port=args.http_port,
            cors_origins=tuple(args.cors_origin),
            shutdown_grace_s=args.shutdown_grace,
            executor=executor_settings(args),
            max_parse_bytes=int(args.max_parse_mb * (1 << 20)),
            parse_timeout_s=args.parse_timeout,
        )
    except ValueError as error:
        raise OptionError(str(error)) from error


def _auth_token(args: argparse.Namespace) -> str | None:
    if args.auth_token_file is not None:
        try:
            return args.auth_token_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise OptionError(
                f"--auth-token-file {args.auth_token_file}: {error.strerror}"
            ) from error
    return os.environ.get(TOKEN_ENV) or None


def run(args: argparse.Namespace) -> int:
    from plugin_server.executors import ExecutorUnavailable
    from plugin_server.server.app import FoleyServer
    from plugin_server.server.logs import configure_logging

    configure_logging(args.log_level, args.log_format)
    try:
        config = build_config(args)
        server = FoleyServer(config)
        server.start()
    except (OptionError, OSError, ValueError, ExecutorUnavailable) as error:
        print(f"foley-server serve: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())
    # One machine-readable line on stdout, for scripts that started us with --port 0.
    print(f"listening on {server.address}", flush=True)
    if server.metrics_port is not None:
        print(f"metrics on http://{config.metrics_host}:{server.metrics_port}/metrics", flush=True)
    if server.http_url is not None:
        print(f"http on {server.http_url}", flush=True)
    while not stop.wait(1.0):  # a timed wait lets the signal handler run promptly
        pass
    log.info("signal received: draining")
    server.stop()
    return 0
