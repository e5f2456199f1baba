"""Structured logs: every line carries the job id and clip id it was written for.

The ids come from the context variables of `plugin_server.pipeline.log_context`, injected by a
filter on the handler, so library code logs normally. Two formats: `text` (one readable line)
and `json` (one object per line, for log shippers).
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Literal

from plugin_server.pipeline.log_context import clip_id_var, job_id_var

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s job=%(job_id)s clip=%(clip_id)s %(message)s"


class ContextFilter(logging.Filter):
    """Adds `job_id` and `clip_id` attributes to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.job_id = job_id_var.get()
        record.clip_id = clip_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "job_id": getattr(record, "job_id", "-"),
            "clip_id": getattr(record, "clip_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False)


def configure_logging(level: str = "INFO", log_format: LogFormat = "text") -> None:
    """Send all logs to stderr with job and clip ids, replacing earlier root handlers."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
