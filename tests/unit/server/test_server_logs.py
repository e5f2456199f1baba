"""Structured logs: job and clip ids on every line, in text and JSON."""

from __future__ import annotations

import io
import json
import logging

from plugin_server.pipeline.log_context import log_context
from plugin_server.server.logs import TEXT_FORMAT, ContextFilter, JsonFormatter


def _logger(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"test.logs.{id(stream)}")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, stream


def test_text_lines_carry_the_ids_of_the_work_in_progress() -> None:
    logger, stream = _logger(logging.Formatter(TEXT_FORMAT))
    logger.info("outside")
    with log_context(job_id="job1"):
        logger.info("planning")
        with log_context(clip_id="clip-a"):
            logger.info("generating")
        logger.info("after the clip")
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("job=- clip=- outside")
    assert lines[1].endswith("job=job1 clip=- planning")
    assert lines[2].endswith("job=job1 clip=clip-a generating")
    assert lines[3].endswith("job=job1 clip=- after the clip")


def test_json_lines_are_one_object_each_with_the_ids() -> None:
    logger, stream = _logger(JsonFormatter())
    with log_context(job_id="job2", clip_id="clip-b"):
        try:
            raise ValueError("broken media")
        except ValueError:
            logger.exception("clip failed")
    (line,) = stream.getvalue().splitlines()
    document = json.loads(line)
    assert document["job_id"] == "job2" and document["clip_id"] == "clip-b"
    assert document["level"] == "ERROR" and document["message"] == "clip failed"
    assert "ValueError: broken media" in document["exception"]
