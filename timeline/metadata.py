"""Reading OTIO metadata without the bindings' slow path.

`key in metadata` and `metadata.get(key)` on OTIO's AnyDictionary raise and catch a KeyError
through the C++ bindings when the key is missing, about 100 us each: a second per ten thousand
clips. Iterating the keys is native, but running the iterator to its end raises and catches
StopIteration through the bindings too (about 10 us); `keys_of` takes exactly `len` keys, so
look-ups here list them first, at about 2 us for a clip's usual one or two keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def keys_of(metadata: Mapping[str, Any]) -> set[str]:
    """The keys of a dict or an OTIO AnyDictionary, without exhausting its iterator."""
    count = len(metadata)
    if not count:
        return set()
    iterator = iter(metadata)
    return {next(iterator) for _ in range(count)}


def lookup(metadata: Mapping[str, Any], key: str) -> Any:
    """metadata[key], or None when absent; fast when absent."""
    if key not in keys_of(metadata):
        return None
    return metadata[key]


def namespace(metadata: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    """The dict stored under `key` (e.g. "foley"), or None when absent or not a dict."""
    value = lookup(metadata, key)
    return value if isinstance(value, Mapping) else None
