"""Which format a result timeline is sent in, and its file extension."""

from __future__ import annotations

from timeline.errors import UnsupportedFormat
from timeline.formats import result_format
from timeline.output_rules import EXTENSIONS
from timeline.output_rules import OTIOD_RESULT_NOTE as OTIOD_NOTE


def result_format_for(input_format: str, requested: str | None) -> tuple[str, tuple[str, ...]]:
    """The result's format and notes for the user: the requested one, else the input's (an
    EDL or .otiod input is answered in OTIO). Raises UnsupportedFormat for read-only formats."""
    chosen, notes = result_format(input_format, requested)
    if chosen == "otiod":
        if requested:
            raise UnsupportedFormat(f"{OTIOD_NOTE}; ask for otio or otioz instead")
        return "otio", (*notes, OTIOD_NOTE)
    return chosen, notes


def extension(format_name: str) -> str:
    return EXTENSIONS.get(format_name, f".{format_name}")
