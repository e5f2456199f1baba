"""AAF (Avid) in the editor's own file: a copy of the original with the Foley added.

`patch_aaf` opens a copy of the original with pyaaf2 and adds, to the top-level composition
the timeline was read from, one sound slot per Foley lane ("Foley V1") holding a sequence of
fillers and source clips; each clip refers to a new MasterMob -> file SourceMob (a PCM
descriptor with a network locator to the WAV). Every existing mob, slot, segment, effect and
property is left as it was. Mob ids are derived from the clip id and audio content hash, so
rewriting a result gives the same ids.

`aaf_fidelity` is the proof: every mob of the input is in the result with every property
(slots, segments, effects, comments; recursively) unchanged, except that the composition
gained the Foley slots after its own; the only new mobs are the Foley master and file mobs.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import aaf2
import aaf2.types
from aaf2 import properties
from aaf2.mobid import MobID

from timeline.aaf_reader import composition_mobs
from timeline.errors import MalformedTimeline, ResultError, TimelineError, WriteError
from timeline.native_xml import FidelityReport
from timeline.result import FoleyLane, audio_url, avid_mob_id

FOLEY_MOB_PREFIX = "Foley "
_SAMPLE_RATE = 48000


def _open_copy(original: bytes, file: str) -> tuple[Path, Any]:
    handle, name = tempfile.mkstemp(suffix=".aaf", prefix="foley-aaf-")
    with os.fdopen(handle, "wb") as stream:
        stream.write(original)
    path = Path(name)
    try:
        return path, aaf2.open(str(path), "rw")
    # pyaaf2 fails on a damaged compound file with whatever its parser raises.
    except Exception as error:
        path.unlink(missing_ok=True)
        raise MalformedTimeline(
            f"not a valid AAF file: {type(error).__name__}: {error}", file=file
        ) from error


def find_composition(aaf_file: Any, timeline_name: str, *, file: str) -> Any:
    """The top-level composition the timeline was read from (first with its name)."""
    compositions = composition_mobs(aaf_file)
    for mob in compositions:
        if mob.name == timeline_name:
            return mob
    if len(compositions) == 1:
        return compositions[0]
    raise ResultError(
        f"no top-level composition named {timeline_name!r} to add the Foley to", file=file
    )


def patch_aaf(
    original: bytes,
    timeline_name: str,
    lanes: Sequence[FoleyLane],
    *,
    handles_frames: int,
    rate: Fraction,
    file: str,
) -> bytes:
    """The original AAF with the Foley lanes added as sound slots (bytes of the new file)."""
    path, aaf_file = _open_copy(original, file)
    try:
        with aaf_file:
            composition = find_composition(aaf_file, timeline_name, file=file)
            edit_rate = _picture_edit_rate(composition) or rate
            builder = _Builder(aaf_file, edit_rate, handles_frames)
            for lane in lanes:
                slot = composition.create_timeline_slot(edit_rate=edit_rate)
                slot["SlotName"].value = lane.name
                # Built detached and attached once: pyaaf2 re-attaches every element of a
                # vector on each append (quadratic, and it re-reads collected objects).
                slot.segment = builder.lane_sequence(lane, slot.slot_id)
            # Every new mob attached in one call, for the same reason.
            aaf_file.content.mobs.extend(builder.new_mobs)
        return path.read_bytes()
    except TimelineError:
        raise
    # pyaaf2 fails on files it cannot extend with whatever its code raises.
    except Exception as error:
        raise WriteError(
            f"cannot add the Foley to this AAF: {type(error).__name__}: {error}; "
            "write the result as otio instead",
            file=file,
        ) from error
    finally:
        path.unlink(missing_ok=True)


def _picture_edit_rate(composition: Any) -> Fraction | None:
    for slot in composition.slots:
        if slot.media_kind == "Picture" and "EditRate" in slot:
            value = slot["EditRate"].value
            return Fraction(value.numerator, value.denominator)
    return None


class _Builder:
    """The Foley slots' sequences and their master and file mobs, built detached from the file
    (setting properties on a detached object costs no directory entry).

    pyaaf2 looks a property's definition up by name, through the class hierarchy, on every
    get and set, and a component's constructor looks its data definition up by name: 1.4 s
    for the ~9,000 objects of 1,000 clips. Components and slots are therefore made without
    their constructors, and plain and weak-reference properties are set from the definition
    found for the first object of each class (the same bytes pyaaf2 would write).
    """

    def __init__(self, aaf_file: Any, edit_rate: Fraction, handles: int) -> None:
        self.aaf_file = aaf_file
        self.create = aaf_file.create
        self.edit_rate = edit_rate
        self.handles = handles
        self.mobs = aaf_file.content.mobs
        self.sound = aaf_file.dictionary.lookup_datadef("sound")
        self.new_mobs: list[Any] = []
        self.new_ids: set[str] = set()
        self.classes: dict[str, type] = {}
        self.specs: dict[tuple[Any, str], tuple[Any, Callable[[Any], bytes] | None]] = {}
        self.ref_specs: dict[tuple[Any, str], tuple[type, int, int, Any]] = {}
        self.now = datetime.now()

    def new(self, class_name: str) -> Any:
        """A bare object of a class pyaaf2 models (its constructor's lookups skipped)."""
        cls = self.classes.get(class_name)
        if cls is None:
            cls = self.classes[class_name] = type(self.create.from_name(class_name))
        obj = cls.__new__(cls)
        obj.root = self.aaf_file
        return obj

    def put(self, obj: Any, name: str, value: Any) -> None:
        """obj[name].value = value, with the definition looked up once per class."""
        key = (obj.class_id, name)
        spec = self.specs.get(key)
        if spec is None:
            prop = obj[name]
            prop.value = value
            if type(prop) in (properties.Property, properties.WeakRefProperty):
                typedef = prop.typedef
                # Integers packed directly (pyaaf2 rebuilds the struct format on every set).
                if isinstance(typedef, aaf2.types.TypeDefInt):
                    encode = struct.Struct(typedef.pack_format()).pack
                elif type(prop) is properties.Property:
                    encode = typedef.encode
                else:
                    encode = None  # a weak reference: its key is copied, not encoded
                self.specs[key] = (prop, encode)
            return
        template, encode = spec
        prop = type(template)(obj, template.pid, template.format)
        prop._propertydef = template._propertydef
        if type(template) is properties.WeakRefProperty:
            # A reference to a definition: the same target for every object.
            prop.weakref_index = template.weakref_index
            prop.key_pid = template.key_pid
            prop.key_size = template.key_size
            prop.ref = value.auid
            prop.data = prop.encode()
        else:
            assert encode is not None
            prop.data = encode(value)
        obj.property_entries[template.pid] = prop

    def put_ref(self, obj: Any, name: str, value: Any) -> None:
        """obj[name].value = value for a strong reference (to objects built detached), with
        the definition looked up once per class."""
        key = (obj.class_id, name)
        spec = self.ref_specs.get(key)
        if spec is None:
            prop = obj[name]
            self.ref_specs[key] = (type(prop), prop.pid, prop.format, prop.propertydef)
        else:
            kind, pid, stored, definition = spec
            prop = obj.property_entries.get(pid) or kind(obj, pid, stored)
            prop._propertydef = definition
        prop.value = value

    def component(self, kind: str, length: int) -> Any:
        component = self.new(kind)
        self.put(component, "DataDefinition", self.sound)
        self.put(component, "Length", length)
        return component

    def source_clip(self, mob_id: MobID, slot_id: int, start: int, length: int) -> Any:
        clip = self.component("SourceClip", length)
        self.put(clip, "StartTime", start)
        self.put(clip, "SourceID", mob_id)
        self.put(clip, "SourceMobSlotID", slot_id)
        return clip

    def lane_sequence(self, lane: FoleyLane, slot_id: int) -> Any:
        components = []
        position = 0
        for clip, generated in lane.clips:
            gap = clip.record_start_frame - position
            if gap < 0:
                raise ResultError("Foley clips of one lane overlap", clip=clip.name)
            if gap:
                components.append(self.component("Filler", gap))
            duration = clip.record_duration_frames
            content_hash = generated.metadata.get("content_hash")
            master_id = self.master_mob(
                clip.name,
                Path(generated.audio_path),
                duration + 2 * self.handles,
                avid_mob_id(clip.clip_id, content_hash),
                avid_mob_id(f"{clip.clip_id}/file", content_hash),
            )
            components.append(self.source_clip(master_id, 1, self.handles, duration))
            position = clip.record_start_frame + duration
        sequence = self.component("Sequence", position)
        self.put_ref(sequence, "Components", components)
        return sequence

    def unused(self, identifier: str) -> MobID:
        """The derived id, or (only if the file already holds it) a variant of it."""
        candidate = identifier
        counter = 0
        while candidate in self.new_ids or MobID(candidate) in self.mobs:
            counter += 1
            candidate = identifier[:-8] + f"{counter:08x}"
        self.new_ids.add(candidate)
        return MobID(candidate)

    def slot(self, segment: Any) -> Any:
        slot = self.new("TimelineMobSlot")
        self.put(slot, "SlotID", 1)
        self.put(slot, "SlotName", "")
        self.put(slot, "Origin", 0)
        self.put(slot, "EditRate", self.edit_rate)
        self.put_ref(slot, "Segment", segment)
        return slot

    def master_mob(
        self, clip_name: str, audio_path: Path, length: int, master_id: str, file_id: str
    ) -> MobID:
        """A MasterMob -> file SourceMob pair for one WAV; the master mob's id."""
        file_mob = self.mob("SourceMob", f"{FOLEY_MOB_PREFIX}{audio_path.name}", file_id)
        descriptor = self.create.PCMDescriptor()
        locator = self.create.NetworkLocator()
        self.put(locator, "URLString", audio_url(audio_path))
        self.put_ref(descriptor, "Locator", [locator])
        for name, value in (
            ("SampleRate", _SAMPLE_RATE),
            ("AudioSamplingRate", _SAMPLE_RATE),
            ("Channels", 1),
            ("QuantizationBits", 24),
            ("BlockAlign", 3),
            ("AverageBPS", 3 * _SAMPLE_RATE),
            ("Length", int(length * _SAMPLE_RATE / self.edit_rate)),
        ):
            self.put(descriptor, name, value)
        self.put_ref(file_mob, "EssenceDescription", descriptor)
        # A file mob's own clip refers to no further mob (the essence is the WAV).
        self.put_ref(file_mob, "Slots", [self.slot(self.source_clip(MobID(), 0, 0, length))])

        master = self.mob("MasterMob", f"{FOLEY_MOB_PREFIX}{clip_name}", master_id)
        file_clip = self.source_clip(file_mob["MobID"].value, 1, 0, length)
        self.put_ref(master, "Slots", [self.slot(file_clip)])
        self.new_mobs.extend((file_mob, master))
        return master["MobID"].value

    def mob(self, class_name: str, name: str, identifier: str) -> Any:
        """A bare mob with what pyaaf2's constructor sets (one creation time for all)."""
        mob = self.new(class_name)
        self.put(mob, "Name", name)
        self.put(mob, "MobID", self.unused(identifier))
        self.put(mob, "CreationTime", self.now)
        self.put(mob, "LastModified", self.now)
        return mob


# --- fidelity ------------------------------------------------------------------------------------


def aaf_fidelity(original: bytes, result: bytes, *, file: str = "<result>") -> FidelityReport:
    """Every mob of `original` in `result` with every property unchanged (the composition may
    gain slots after its own, named "Foley ..."); new mobs must be Foley mobs."""
    problems: list[str] = []
    added: list[str] = []
    before_path, before = _open_read(original, file)
    after_path, after = _open_read(result, file)
    try:
        with before, after:
            result_mobs = {str(mob.mob_id): mob for mob in after.content.mobs}
            original_ids = set()
            for mob in before.content.mobs:
                key = str(mob.mob_id)
                original_ids.add(key)
                other = result_mobs.get(key)
                label = f"{type(mob).__name__} {mob.name!r} ({key})"
                if other is None:
                    problems.append(f"{label} is missing from the result")
                    continue
                old_dump = _dump(mob)
                new_dump = _dump(other)
                old_slots = old_dump.pop("Slots", [])
                new_slots = new_dump.pop("Slots", [])
                if old_dump != new_dump:
                    problems.append(f"{label} changed its properties")
                if new_slots[: len(old_slots)] != old_slots:
                    problems.append(f"{label}: an existing slot changed")
                for slot in new_slots[len(old_slots) :]:
                    name = slot.get("SlotName", b"").decode("utf-16-le", "replace").rstrip("\x00")
                    if name.startswith("Foley V"):
                        added.append(f"{label}: slot {name!r}")
                    else:
                        problems.append(f"{label}: slot {name!r} was added and is not Foley")
            for key, mob in result_mobs.items():
                if key in original_ids:
                    continue
                if str(mob.name).startswith(FOLEY_MOB_PREFIX):
                    added.append(f"{type(mob).__name__} {mob.name!r}")
                else:
                    problems.append(f"{type(mob).__name__} {mob.name!r} was added and is not Foley")
    finally:
        before_path.unlink(missing_ok=True)
        after_path.unlink(missing_ok=True)
    return FidelityReport(tuple(problems), tuple(added))


def _open_read(data: bytes, file: str) -> tuple[Path, Any]:
    handle, name = tempfile.mkstemp(suffix=".aaf", prefix="foley-aaf-check-")
    with os.fdopen(handle, "wb") as stream:
        stream.write(data)
    path = Path(name)
    try:
        return path, aaf2.open(str(path), "r")
    except Exception as error:  # pyaaf2's parser errors: the file is not a valid AAF
        path.unlink(missing_ok=True)
        raise MalformedTimeline(f"not a valid AAF file: {error}", file=file) from error


def _dump(obj: Any) -> dict[str, Any]:
    """An object's properties: strong references followed, everything else as its stored
    bytes (a weak reference's bytes name what it points to: a mob id, a definition's AUID)."""
    values: dict[str, Any] = {"class": type(obj).__name__}
    for prop in obj.properties():
        kind = type(prop).__name__
        if kind == "StrongRefProperty":
            values[prop.name] = _dump(prop.value)
        elif kind in ("StrongRefVectorProperty", "StrongRefSetProperty"):
            values[prop.name] = [_dump(item) for item in prop.value]
        else:
            values[prop.name] = bytes(prop.data or b"")
    return values
