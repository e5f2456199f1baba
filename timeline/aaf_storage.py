"""An AAF file's objects read straight from its compound file (read only, bounded).

An AAF file is a Microsoft compound file (structured storage): a FAT of sectors, a directory
of named entries forming a tree, and small streams packed in a mini stream. Each AAF object is
a storage whose directory entry carries the object's class id and which holds a `properties`
stream (a header, then `pid, format, size` per property, then the data); strong references
name child storages, vectors and sets name an `<name> index` stream listing their elements.

pyaaf2 reads the same, through a general object layer that costs ~100 us an object (property
definitions looked up by name, weak caches re-reading collected objects, directory lookups by
path): 2 s for the ~20,000 objects of a 1,000-clip edit. `Storage` parses the directory and
the FAT once with `struct` and decodes an object's properties only when asked, by pid.

Everything is bounded by the file itself: a chain of sectors is followed at most as many
steps as the file has sectors, a stream is never read past the bytes its chain holds, and a
claimed size the chain does not hold is a `MalformedTimeline` (pyaaf2 allocates the claimed
size first: see tests/adversarial/hostile_inputs.py).
"""

from __future__ import annotations

import struct
from typing import Any

from timeline.errors import MalformedTimeline

_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
_FREE, _END_OF_CHAIN = 0xFFFFFFFF, 0xFFFFFFFE
_NO_ENTRY = 0xFFFFFFFF
_DIRECTORY_ENTRY = struct.Struct("<64sHBB3I16sI16sIQ")
_PROPERTY_HEADER = struct.Struct("<BBH")

# Property stored formats (the AAF low-level stored format, as pyaaf2 names them).
SF_DATA = 0x82
SF_STRONG_OBJECT_REFERENCE = 0x22
SF_STRONG_OBJECT_REFERENCE_VECTOR = 0x32
SF_STRONG_OBJECT_REFERENCE_SET = 0x3A
SF_WEAK_OBJECT_REFERENCE = 0x02


class _Entry:
    """One directory entry: a storage (an object) or a stream."""

    __slots__ = ("child", "children", "class_id", "kind", "left", "name", "right", "size", "start")

    def __init__(self, raw: tuple[Any, ...]) -> None:
        (
            name,
            name_bytes,
            kind,
            _color,
            left,
            right,
            child,
            class_id,
            _state,
            _times,
            start,
            size,
        ) = raw
        self.name = name[: max(name_bytes - 2, 0)].decode("utf-16-le", "replace")
        self.kind = kind
        self.left = left
        self.right = right
        self.child = child
        self.class_id = class_id
        self.start = start
        self.size = size
        self.children: dict[str, int] | None = None


class Storage:
    """The compound file's directory and streams; objects by path, decoded on demand."""

    def __init__(self, data: bytes, *, file: str) -> None:
        self.data = data
        self.file = file
        if len(data) < 512 or data[:8] != _MAGIC:
            raise self.malformed("not a compound file (no AAF signature)")
        major = struct.unpack_from("<H", data, 0x1A)[0]
        shift, mini_shift = struct.unpack_from("<HH", data, 0x1E)
        if shift not in (9, 12) or mini_shift != 6:
            raise self.malformed(f"unsupported sector sizes (2^{shift}, 2^{mini_shift})")
        self.sector_size = 1 << shift
        self.mini_size = 1 << mini_shift
        (
            fat_sectors,
            first_directory,
            _transaction,
            self.cutoff,
            first_mini_fat,
            mini_fat_sectors,
            first_difat,
            difat_sectors,
        ) = struct.unpack_from("<8I", data, 0x2C)
        self.sector_count = max((len(data) - self.sector_size) // self.sector_size, 0)
        self.fat = self._fat(fat_sectors, first_difat, difat_sectors)
        directory = self.chain_bytes(first_directory)
        count = len(directory) // 128
        self.entries = [
            _Entry(raw) for raw in _DIRECTORY_ENTRY.iter_unpack(directory[: count * 128])
        ]
        if major == 3:
            # Version 3 files (512-byte sectors) may leave garbage in a size's high half.
            for entry in self.entries:
                entry.size &= 0xFFFFFFFF
        if not self.entries or self.entries[0].kind != 5:
            raise self.malformed("the directory has no root entry")
        root = self.entries[0]
        self.mini_fat = _u32_array(self.chain_bytes(first_mini_fat)) if mini_fat_sectors else ()
        self.mini_stream = self.chain_bytes(root.start, root.size) if root.size else b""

    def malformed(self, detail: str) -> MalformedTimeline:
        return MalformedTimeline(f"not a valid AAF file: {detail}", file=self.file)

    # --- sectors and streams --------------------------------------------------------------------

    def _fat(self, fat_sectors: int, first_difat: int, difat_sectors: int) -> tuple[int, ...]:
        locations = list(struct.unpack_from("<109I", self.data, 0x4C))
        sector = first_difat
        per_sector = self.sector_size // 4 - 1
        for _ in range(min(difat_sectors, self.sector_count)):
            if sector >= _END_OF_CHAIN:
                break
            values = struct.unpack_from(f"<{per_sector + 1}I", self.data, self._offset(sector))
            locations.extend(values[:per_sector])
            sector = values[per_sector]
        locations = [location for location in locations[:fat_sectors] if location < _END_OF_CHAIN]
        return _u32_array(b"".join(self._sector(location) for location in locations))

    def _offset(self, sector: int) -> int:
        offset = (sector + 1) * self.sector_size
        if sector >= self.sector_count or offset + self.sector_size > len(self.data):
            raise self.malformed(f"sector {sector} lies beyond the end of the file")
        return offset

    def _sector(self, sector: int) -> bytes:
        offset = self._offset(sector)
        return self.data[offset : offset + self.sector_size]

    def chain_bytes(self, start: int, size: int | None = None) -> bytes:
        """The bytes of a chain of regular sectors (cut to `size` when given)."""
        parts = []
        sector = start
        limit = len(self.fat)
        steps = 0
        while sector < _END_OF_CHAIN:
            if sector >= limit or steps > limit:
                raise self.malformed("a sector chain is broken or loops")
            parts.append(self._sector(sector))
            sector = self.fat[sector]
            steps += 1
        data = b"".join(parts)
        if size is not None:
            if len(data) < size:
                raise self.malformed(f"a stream claims {size} bytes; its sectors hold {len(data)}")
            data = data[:size]
        return data

    def stream(self, entry: _Entry) -> bytes:
        if entry.size >= self.cutoff:
            return self.chain_bytes(entry.start, entry.size)
        parts = []
        sector = entry.start
        limit = len(self.mini_fat)
        steps = 0
        remaining = entry.size
        while remaining > 0:
            if sector >= limit or steps > limit:
                raise self.malformed("a small stream's chain is broken or loops")
            offset = sector * self.mini_size
            parts.append(self.mini_stream[offset : offset + min(self.mini_size, remaining)])
            remaining -= self.mini_size
            sector = self.mini_fat[sector]
            steps += 1
        data = b"".join(parts)
        if len(data) < entry.size:
            raise self.malformed(f"a stream claims {entry.size} bytes; it holds {len(data)}")
        return data

    # --- the directory tree ---------------------------------------------------------------------

    def children(self, index: int) -> dict[str, int]:
        """A storage's entries by name (the red-black tree under it walked once)."""
        entry = self.entries[index]
        if entry.children is not None:
            return entry.children
        found: dict[str, int] = {}
        pending = [entry.child]
        total = len(self.entries)
        while pending:
            current = pending.pop()
            if current == _NO_ENTRY:
                continue
            if current >= total or len(found) > total:
                raise self.malformed("the directory tree is broken or loops")
            node = self.entries[current]
            if node.name in found:
                raise self.malformed(f"the directory holds {node.name!r} twice")
            found[node.name] = current
            pending.append(node.left)
            pending.append(node.right)
        entry.children = found
        return found

    def child(self, index: int, name: str) -> int | None:
        return self.children(index).get(name)

    def root_object(self) -> AAFObject:
        """The file's header object (the root storage)."""
        return AAFObject(self, 0, "")


def _u32_array(data: bytes) -> tuple[int, ...]:
    return struct.unpack(f"<{len(data) // 4}I", data[: len(data) // 4 * 4])


def _utf16(data: bytes) -> str:
    text = data.decode("utf-16-le", "replace")
    return text[:-1] if text.endswith("\x00") else text


class AAFObject:
    """One AAF object: its class id (16 bytes, as stored) and its properties by pid."""

    __slots__ = ("class_id", "index", "path", "properties", "storage")

    def __init__(self, storage: Storage, index: int, path: str) -> None:
        self.storage = storage
        self.index = index
        # The object's path in the compound file, to hand a rare object to pyaaf2.
        self.path = path
        entry = storage.entries[index]
        if entry.kind not in (1, 5):
            raise storage.malformed(f"{entry.name!r} is a stream where an object was expected")
        self.class_id: bytes = entry.class_id
        self.properties: dict[int, tuple[int, bytes]] = {}
        stream_index = storage.child(index, "properties")
        if stream_index is None:
            return
        data = storage.stream(storage.entries[stream_index])
        if len(data) < 4:
            raise storage.malformed(f"the properties of {entry.name!r} are cut short")
        byte_order, _version, count = _PROPERTY_HEADER.unpack_from(data)
        if byte_order != 0x4C:
            raise storage.malformed(f"{entry.name!r} is stored big-endian")
        position = 4 + 6 * count
        if position > len(data):
            raise storage.malformed(f"the properties of {entry.name!r} are cut short")
        table = struct.unpack_from(f"<{3 * count}H", data, 4)
        for number in range(count):
            pid, stored, size = table[3 * number : 3 * number + 3]
            self.properties[pid] = (stored, data[position : position + size])
            position += size
        if position > len(data):
            raise storage.malformed(f"the properties of {entry.name!r} are cut short")

    @property
    def path_name(self) -> str:
        return self.storage.entries[self.index].name

    def has(self, pid: int) -> bool:
        return pid in self.properties

    def raw(self, pid: int) -> bytes | None:
        value = self.properties.get(pid)
        return value[1] if value is not None else None

    def int(self, pid: int) -> int | None:
        data = self.raw(pid)
        if data is None:
            return None
        if len(data) not in (1, 2, 4, 8):
            raise self.storage.malformed(f"property {pid:#06x} has {len(data)} bytes")
        return int.from_bytes(data, "little", signed=len(data) == 8)

    def uint(self, pid: int) -> int | None:
        data = self.raw(pid)
        if data is None:
            return None
        return int.from_bytes(data, "little", signed=False)

    def string(self, pid: int) -> str | None:
        data = self.raw(pid)
        return _utf16(data) if data is not None else None

    def rational(self, pid: int) -> tuple[int, int] | None:
        data = self.raw(pid)
        if data is None:
            return None
        if len(data) != 8:
            raise self.storage.malformed(f"rational property {pid:#06x} has {len(data)} bytes")
        numerator, denominator = struct.unpack("<ii", data)
        return numerator, denominator

    def weak_key(self, pid: int) -> bytes | None:
        """The key (an AUID or a mob id, as stored) a weak reference names."""
        data = self._stored(pid, SF_WEAK_OBJECT_REFERENCE, "a weak reference")
        if data is None:
            return None
        if len(data) < 5:
            raise self.storage.malformed(f"property {pid:#06x} is not a weak reference")
        size = data[4]
        return data[5 : 5 + size]

    def strong(self, pid: int) -> AAFObject | None:
        data = self._stored(pid, SF_STRONG_OBJECT_REFERENCE, "a strong reference")
        if data is None:
            return None
        child = self.storage.child(self.index, _utf16(data))
        if child is None:
            raise self.storage.malformed(f"{self.path_name!r} refers to a missing object")
        return AAFObject(self.storage, child, f"{self.path}/{_utf16(data)}")

    def _stored(self, pid: int, stored_format: int, what: str) -> bytes | None:
        """The property's bytes when it is stored as `stored_format` (`what`, for the error);
        None when the object does not have it."""
        value = self.properties.get(pid)
        if value is None:
            return None
        stored, data = value
        if stored != stored_format:
            raise self.storage.malformed(f"property {pid:#06x} is not {what} ({stored:#x})")
        return data

    def _index(self, pid: int, stored_format: int) -> tuple[str, bytes] | None:
        data = self._stored(pid, stored_format, f"stored as {stored_format:#x}")
        if data is None:
            return None
        name = _utf16(data)
        index_entry = self.storage.child(self.index, f"{name} index")
        if index_entry is None:
            raise self.storage.malformed(f"{self.path_name!r} has no index for {name!r}")
        return name, self.storage.stream(self.storage.entries[index_entry])

    def vector(self, pid: int) -> list[AAFObject]:
        found = self._index(pid, SF_STRONG_OBJECT_REFERENCE_VECTOR)
        if found is None:
            return []
        name, index = found
        if len(index) < 12:
            raise self.storage.malformed(f"the index of {name!r} is cut short")
        count = struct.unpack_from("<I", index)[0]
        if 12 + 4 * count > len(index):
            raise self.storage.malformed(f"the index of {name!r} is cut short")
        keys = struct.unpack_from(f"<{count}I", index, 12)
        return [self._element(name, key) for key in keys]

    def set_keys(self, pid: int) -> dict[bytes, str]:
        """A strong-reference set's elements: key as stored -> element storage name."""
        found = self._index(pid, SF_STRONG_OBJECT_REFERENCE_SET)
        if found is None:
            return {}
        name, index = found
        if len(index) < 15:
            raise self.storage.malformed(f"the index of {name!r} is cut short")
        count = struct.unpack_from("<I", index)[0]
        key_size = index[14]
        record = 8 + key_size
        if key_size not in (16, 32) or 15 + record * count > len(index):
            raise self.storage.malformed(f"the index of {name!r} is malformed")
        elements = {}
        for number in range(count):
            offset = 15 + record * number
            local_key = struct.unpack_from("<I", index, offset)[0]
            elements[bytes(index[offset + 8 : offset + record])] = f"{name}{{{local_key:x}}}"
        return elements

    def set_element(self, name: str) -> AAFObject | None:
        child = self.storage.child(self.index, name)
        return AAFObject(self.storage, child, f"{self.path}/{name}") if child is not None else None

    def _element(self, name: str, key: int) -> AAFObject:
        element = f"{name}{{{key:x}}}"
        child = self.storage.child(self.index, element)
        if child is None:
            raise self.storage.malformed(f"{self.path_name!r} lists a missing element of {name!r}")
        return AAFObject(self.storage, child, f"{self.path}/{element}")
