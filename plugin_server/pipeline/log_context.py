"""The job and clip a thread is working on, for log lines (see plugin_server.server.logs).

Context variables rather than logger arguments, so that every library log line emitted while a
clip is processed (decoder, engine) carries the ids without those libraries knowing about them.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

job_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("job_id", default="-")
clip_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("clip_id", default="-")


@contextmanager
def log_context(*, job_id: str | None = None, clip_id: str | None = None) -> Iterator[None]:
    """Within the block, log lines of this thread carry `job_id` and `clip_id`."""
    tokens = []
    if job_id is not None:
        tokens.append((job_id_var, job_id_var.set(job_id)))
    if clip_id is not None:
        tokens.append((clip_id_var, clip_id_var.set(clip_id)))
    try:
        yield
    finally:
        for variable, token in reversed(tokens):
            variable.reset(token)
