"""Tell a timeline format from the content, not the file name."""

from __future__ import annotations

import re

ZIP_MAGIC = b"PK\x03\x04"
# AAF files are Microsoft compound files (structured storage).
COMPOUND_FILE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

_XML_ROOT = re.compile(rb"<\s*(xmeml|fcpxml)\b", re.IGNORECASE)
_EDL_EVENT = re.compile(
    r"^\s*\d{1,6}\s+\S+\s+(?:V|A\d*|AA|B|NONE|AA/V|A\d*/V)\S*\s+(?:C|D|W\d+|K[BO]?)\b",
    re.MULTILINE | re.IGNORECASE,
)
_EDL_HEADER = re.compile(r"^\s*(TITLE|FCM)\s*:", re.MULTILINE | re.IGNORECASE)

# How much of a file sniffing reads: a root element or an EDL's first events sit well inside it.
SNIFF_BYTES = 64 * 1024


def sniff_format(data: bytes) -> str | None:
    """The format `data` holds ("otio", "otioz", "fcp_xml", "fcpxml", "aaf", "edl") or None."""
    head = data[:SNIFF_BYTES]
    if head.startswith(ZIP_MAGIC):
        return "otioz"
    if head.startswith(COMPOUND_FILE_MAGIC):
        return "aaf"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{"):
        return "otio" if b"OTIO_SCHEMA" in head else None
    if text.startswith(b"<"):
        match = _XML_ROOT.search(head)
        if match is None:
            return None
        return "fcp_xml" if match.group(1).lower() == b"xmeml" else "fcpxml"
    decoded = head.decode("latin-1")
    if _EDL_EVENT.search(decoded) or _EDL_HEADER.search(decoded):
        return "edl"
    return None
