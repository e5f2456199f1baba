"""Typed errors of the pipeline. The server maps each class to one gRPC status code."""

from __future__ import annotations


class PipelineError(RuntimeError):
    """Base class; the message names the field, file or clip and says what to do."""


class InvalidRequest(PipelineError):
    """An option or input is malformed or out of range (INVALID_ARGUMENT)."""


class AccessRefused(PipelineError):
    """A path points outside the media roots or output root, or is not a plain path
    (PERMISSION_DENIED)."""


class InputNotFound(PipelineError):
    """A timeline or media file named by the request does not exist (NOT_FOUND)."""
