"""Reading OTIO metadata without the bindings' slow path.

`key in metadata` and `metadata.get(key)` on OTIO's AnyDictionary raise and catch a KeyError
through the C++ bindings when the key is missing, about 100 us each: a second per ten thousand
clips. Iterating the keys is native, so look-ups here list them first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def lookup(metadata: Mapping[str, Any], key: str) -> Any:
    """metadata[key], or None when absent; fast when absent."""
    if not len(metadata) or key not in set(metadata):
        return None
    return metadata[key]


def namespace(metadata: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    """The dict stored under `key` (e.g. "foley"), or None when absent or not a dict."""
    value = lookup(metadata, key)
    return value if isinstance(value, Mapping) else None
