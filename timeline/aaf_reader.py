"""AAF read straight from the file into OpenTimelineIO (the adapter's model, 7x faster).

OpenTimelineIO's AAF adapter transcribes every property of every object it meets into metadata
(tagged values, parameters, descriptors, keyframes), builds a nested OTIO tree mirroring the
AAF one (slot -> sequence -> master mob track -> clip) and then simplifies it with deep copies:
4 s for 1,000 clips, mostly spent reading properties nobody uses through pyaaf2's object layer
(~100 us an object). This reader decodes objects from the compound file itself
(`timeline.aaf_storage`: 0.5 s for the same file), asking pyaaf2, which opens the same file,
only for the dictionary's data definition names and for the few objects read whole
(transitions' and effects' operation groups, tagged values). It walks only what spotting and
the result need:

    composition mob -> timeline slots (a nested scope of one sequence folded in) ->
    sequence -> source clip / filler / transition / selector (the selected take) / effects
    (OperationGroups, nested) -> master mob (an essence group: its first choice) -> file
    source mob -> tape / import source mob -> locators; event slots -> markers

and builds the adapter's *simplified* model directly: the same tracks (names, kinds; a
sequence holding transitions keeps the adapter's track name "Sequence"), clips (the master
mob's name, source range including the master mob's start timecode), media references in the
adapter's order and keys (UNC Path comment, file mob, tape mob; available ranges clamped down
the chain and offset by source timecodes), gaps named "Filler", transitions (in/out offsets
from the cut point, neighbours trimmed as the adapter does), effects on clips (LinearTimeWarp /
FreezeFrame for constant speed, TimeEffect for other time warps and speed curves, Effect for
the rest, the clip cut to the effect's length), muted selections as disabled clips, markers of
the composition and of master clips placed where the adapter's track map puts them, and the
global start time from the composition's primary timecode slot. Metadata is kept small: `AAF`
holds the class name, mob id, media kind and user comments (the adapter copies every property).

Anything outside that (nested compositions, nested scopes of several segments, essence groups
or scope references inside sequences, effects over several inputs or beside transitions,
markers on tracks the reader does not build, master mobs with several segments, ...) raises
`UnsupportedAAFStructure`; `timeline.formats` then reads the file with the adapter, so a file
is either read exactly as the adapter reads it or by the adapter itself, never differently.
`tests/unit/timeline/test_aaf_reader.py` holds the two to the same layout and spotted clips.
"""

from __future__ import annotations

import colorsys
import struct
from dataclasses import dataclass
from typing import Any

import aaf2
import aaf2.components
import aaf2.misc
import aaf2.mobs
import aaf2.mobslots
import opentimelineio as otio
from aaf2.mobid import MobID

from timeline.aaf_storage import AAFObject
from timeline.aaf_storage import Storage as AAFStorage
from timeline.errors import EmptyTimeline, MalformedTimeline, TimelineError

RationalTime = otio.opentime.RationalTime
TimeRange = otio.opentime.TimeRange


class UnsupportedAAFStructure(TimelineError):
    """The file holds a structure this reader does not model; read it with the adapter."""


def read_aaf(path: str, *, file: str) -> otio.core.SerializableObject:
    """The file's top-level compositions as one Timeline, or a collection of them.

    Raises UnsupportedAAFStructure for structures read only by the adapter, MalformedTimeline
    when pyaaf2 cannot read the file or an object it needs, EmptyTimeline when the file holds
    no composition.
    """
    try:
        aaf_file = aaf2.open(path, "r")
    # pyaaf2 fails on a damaged compound file with whatever its parser raises.
    except Exception as error:
        raise MalformedTimeline(
            f"not a valid AAF file: {type(error).__name__}: {_short(error)}", file=file
        ) from error
    with aaf_file:
        with open(path, "rb") as stream:
            data = stream.read()
        try:
            storage = AAFStorage(data, file=file)
        # A directory or FAT cut short or holding impossible numbers.
        except (struct.error, IndexError, ValueError, OverflowError) as error:
            raise MalformedTimeline(
                f"not a valid AAF file: {type(error).__name__}: {_short(error)}", file=file
            ) from error
        return _Reader(aaf_file, storage, file).read()


def composition_mobs(aaf_file: Any) -> list[Any]:
    """The file's top-level compositions, else all its compositions (as the adapter and
    pyaaf2's `toplevel()` choose), without reading every mob: a mob's directory entry names
    its class, so master and source mobs (nearly all of a file) are skipped unread."""
    mobs = aaf_file.content.mobs
    storage = aaf_file.content.dir
    skipped = (aaf2.mobs.MasterMob.class_id, aaf2.mobs.SourceMob.class_id)
    compositions = []
    for key in list(mobs.references):
        entry = storage.get(mobs.index_ref_name(key)) if storage is not None else None
        if entry is not None and entry.class_id in skipped:
            continue
        mob = mobs.get(key)
        if isinstance(mob, aaf2.mobs.CompositionMob):
            compositions.append(mob)
    top_level = [mob for mob in compositions if mob.usage == "Usage_TopLevel"]
    return top_level or compositions


def _short(error: BaseException, limit: int = 200) -> str:
    text = str(error).strip().replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "..."


def _media_kind(kind: str | None) -> str:
    # The adapter's mapping (its _transcribe_media_kind).
    if kind == "Picture":
        return otio.schema.TrackKind.Video
    if kind in ("SoundMasterTrack", "Sound"):
        return otio.schema.TrackKind.Audio
    return f"AAF_{kind}"


def _url(target: str) -> str:
    if not target.startswith("file://"):
        target = "file://" + target
    return target.replace("\\", "/")


def _plain(value: Any) -> Any:
    """A tagged value as the adapter stores it: numbers and text as they are, else text."""
    if isinstance(value, str | int | float):
        return value
    return str(value)


def _definition(operation: Any) -> dict[str, Any]:
    """An operation definition's properties as the adapter stores them (its data definition
    as a dictionary, the parameters it defines left out)."""
    values: dict[str, Any] = {"ClassName": "OperationDef"}
    if operation is None:
        return values
    for prop in operation.properties():
        name = prop.name
        if name == "ParametersDefined":
            continue
        value = prop.value
        if name == "DataDefinition" and value is not None:
            values[name] = {
                "ClassName": "DataDef",
                "Description": value.getvalue("Description"),
                "Identification": str(value.auid),
                "Name": value.name,
            }
        else:
            values[name] = _plain(value)
    return values


@dataclass(frozen=True)
class _CopiedSlot:
    """A master slot as the adapter copies it under a composition clip: the clip it becomes
    and the length of the slot's media (where the adapter looks for a marker's item)."""

    clip: otio.schema.Clip
    duration: RationalTime


class _Clip:
    """What one master mob slot gives every composition clip referring to it."""

    __slots__ = (
        "duration",
        "markers",
        "metadata",
        "name",
        "rate",
        "references",
        "start",
        "track_key",
    )

    def __init__(
        self,
        name: str,
        start: RationalTime,
        duration: RationalTime,
        rate: float,
        references: list[tuple[str, otio.core.MediaReference]],
        metadata: dict[str, Any],
        markers: list[otio.schema.Marker],
        track_key: tuple[int, int] | None,
    ) -> None:
        self.name = name
        self.start = start  # the master slot's first frame, its start timecode included
        self.duration = duration  # the master slot's clip's length (its available range)
        self.rate = rate
        self.references = references
        self.metadata = metadata
        self.markers = markers  # the master mob's markers on this slot, in the clip's time
        # (slot id, physical track number) of the master slot: the adapter's track map for
        # a composition's markers holds it too (it copies the master slot's track).
        self.track_key = track_key


def _class_id(cls: Any) -> bytes:
    return bytes(cls.class_id.bytes_le)


_C = aaf2.components
_COMPOSITION, _MASTER, _SOURCE = (
    _class_id(aaf2.mobs.CompositionMob),
    _class_id(aaf2.mobs.MasterMob),
    _class_id(aaf2.mobs.SourceMob),
)
_TIMELINE_SLOT, _EVENT_SLOT = (
    _class_id(aaf2.mobslots.TimelineMobSlot),
    _class_id(aaf2.mobslots.EventMobSlot),
)
_SEQUENCE, _SOURCE_CLIP, _FILLER, _TRANSITION, _OPERATION_GROUP = (
    _class_id(_C.Sequence),
    _class_id(_C.SourceClip),
    _class_id(_C.Filler),
    _class_id(_C.Transition),
    _class_id(_C.OperationGroup),
)
_TIMECODE, _EDGE_CODE, _PULLDOWN, _ESSENCE_GROUP = (
    _class_id(_C.Timecode),
    _class_id(_C.EdgeCode),
    _class_id(_C.Pulldown),
    _class_id(_C.EssenceGroup),
)
_NESTED_SCOPE, _SELECTOR, _SCOPE_REFERENCE = (
    _class_id(_C.NestedScope),
    _class_id(_C.Selector),
    _class_id(_C.ScopeReference),
)
_TOP_LEVEL = bytes(aaf2.auid.AUID("0d010102-0101-0700-060e-2b3404010101").bytes_le)
_NO_MOB = bytes(32)

# Property ids (fixed by the AAF object specification).
_HEADER, _CONTENT, _MOBS = 0x0002, 0x3B03, 0x1901
_MOB_ID, _MOB_NAME, _MOB_SLOTS, _USER_COMMENTS, _USAGE = 0x4401, 0x4402, 0x4403, 0x4406, 0x4408
_SLOT_ID, _SLOT_NAME, _SEGMENT, _TRACK_NUMBER, _EDIT_RATE = 0x4801, 0x4802, 0x4803, 0x4804, 0x4B01
_DATA_DEFINITION, _LENGTH, _COMPONENTS = 0x0201, 0x0202, 0x1001
_SOURCE_ID, _SOURCE_SLOT_ID, _START_TIME, _TIMECODE_START = 0x1101, 0x1102, 0x1201, 0x1501
_TRANSITION_GROUP, _CUT_POINT, _INPUT_SEGMENTS = 0x1801, 0x1802, 0x0B02
_DESCRIPTOR, _LOCATORS, _URL = 0x4701, 0x2F01, 0x4001
_CHOICES, _SCOPE_SLOTS, _SELECTED, _ALTERNATES = 0x0501, 0x0C01, 0x0F01, 0x0F02


class _Reader:
    def __init__(self, aaf_file: Any, storage: AAFStorage, file: str) -> None:
        # pyaaf2's view of the same file: its dictionary (data definition names) and the
        # rare objects read whole (effects, transitions, tagged values).
        self.aaf_file = aaf_file
        self.storage = storage
        self.file = file
        self.mob_elements: dict[bytes, str] = {}
        self.content: AAFObject | None = None
        self.mob_cache: dict[bytes, AAFObject | None] = {}
        self.clip_cache: dict[tuple[bytes, int], _Clip] = {}
        self.kinds: dict[bytes, str] | None = None
        self.class_names: dict[bytes, str] | None = None
        self.mob_label = ""
        self.slot_label = ""
        # Track map keys of the master slots copied under the slot being read (see
        # `attach_markers`), in the adapter's depth-first order.
        self.nested_keys: list[tuple[tuple[int, int], _CopiedSlot]] = []
        # Clips under effects: their input's length and the ranges the adapter trims their
        # markers to (see `effect_clip`).
        self.effect_clips: dict[int, tuple[RationalTime, list[TimeRange]]] = {}

    # --- access ----------------------------------------------------------------------------------

    def where(self) -> str:
        return " ".join(part for part in (self.mob_label, self.slot_label) if part)

    def unsupported(self, what: str) -> UnsupportedAAFStructure:
        where = self.where()
        return UnsupportedAAFStructure(f"{where}: {what}" if where else what, file=self.file)

    def class_name(self, obj: AAFObject) -> str:
        if self.class_names is None:
            self.class_names = {
                bytes(auid.bytes_le): classdef.class_name
                for auid, classdef in self.aaf_file.metadict.classdefs_by_auid.items()
            }
        return self.class_names.get(obj.class_id, "unknown class")

    def py(self, obj: AAFObject) -> Any:
        """pyaaf2's object for `obj` (for the few objects read whole)."""
        return self.aaf_file.manager.read_object(obj.path)

    def kind_of(self, component: AAFObject) -> str | None:
        """The component's data definition's short name ("Picture", "Sound", ...)."""
        key = component.weak_key(_DATA_DEFINITION)
        if key is None:
            return None
        if self.kinds is None:
            self.kinds = {
                bytes(definition.auid.bytes_le): definition.short_name
                for definition in self.aaf_file.dictionary["DataDefinitions"].values()
            }
        if key not in self.kinds:
            raise self.unsupported("a data definition the file's dictionary does not hold")
        return self.kinds[key]

    def length(self, component: AAFObject) -> int:
        value = component.int(_LENGTH)
        if value is None:
            raise self.unsupported(f"a {self.class_name(component)} without a length")
        return value

    def mob(self, mob_id: bytes | None) -> AAFObject | None:
        if mob_id is None or mob_id == _NO_MOB:
            return None
        if mob_id not in self.mob_cache:
            element = self.mob_elements.get(mob_id)
            assert self.content is not None
            self.mob_cache[mob_id] = (
                self.content.set_element(element) if element is not None else None
            )
        return self.mob_cache[mob_id]

    # --- compositions ----------------------------------------------------------------------------

    def read(self) -> otio.core.SerializableObject:
        try:
            header = self.storage.root_object().strong(_HEADER)
            content = header.strong(_CONTENT) if header is not None else None
            if content is None:
                raise MalformedTimeline("the AAF has no content storage", file=self.file)
            self.content = content
            self.mob_elements = content.set_keys(_MOBS)
            compositions = self.compositions()
            if not compositions:
                raise EmptyTimeline(
                    "the AAF holds no composition (sequence), only clips; export the sequence",
                    file=self.file,
                )
            timelines = [self.composition(mob) for mob in compositions]
        except TimelineError:
            raise
        # pyaaf2 fails on damaged objects (the few read through it) with whatever its
        # decoders raise; struct errors and bad UTF-16 come from damaged properties.
        except Exception as error:
            where = self.where()
            raise MalformedTimeline(
                f"{where + ': ' if where else ''}cannot read the AAF: "
                f"{type(error).__name__}: {_short(error)}",
                file=self.file,
            ) from error
        if len(timelines) == 1:
            return timelines[0]
        return otio.schema.SerializableCollection(children=timelines)

    def compositions(self) -> list[AAFObject]:
        """Top-level compositions, else all (pyaaf2's `toplevel()`, as the adapter asks)."""
        assert self.content is not None
        compositions = []
        for element in self.mob_elements.values():
            index = self.storage.child(self.content.index, element)
            if index is None:
                raise self.storage.malformed(f"the mob {element!r} is missing")
            if self.storage.entries[index].class_id == _COMPOSITION:
                compositions.append(self.content.set_element(element))
        mobs = [mob for mob in compositions if mob is not None]
        top_level = [mob for mob in mobs if mob.raw(_USAGE) == _TOP_LEVEL]
        return top_level or mobs

    def composition(self, mob: AAFObject) -> otio.schema.Timeline:
        name = mob.string(_MOB_NAME) or "CompositionMob"
        self.mob_label = f"composition {name!r}"
        self.slot_label = ""
        timeline = otio.schema.Timeline(name=name)
        global_start = None
        tracks: list[tuple[otio.schema.Track, bool]] = []
        # The adapter's map from (slot id, physical track number) to the track a marker
        # describes, in its depth-first order (a later track with the same numbers wins):
        # the slot's track; the master slot copied under a clip (Avid numbers a sequence's V1
        # and a master clip's V1 alike: slot 1, track 1); None for a slot giving no track
        # (timecode) and for event slots, where the reader places no marker.
        track_keys: dict[tuple[int, int], otio.schema.Track | _CopiedSlot | None] = {}
        event_slots = []
        for slot in mob.vector(_MOB_SLOTS):
            slot_name = slot.string(_SLOT_NAME)
            slot_id = slot.uint(_SLOT_ID) or 0
            number = slot.uint(_TRACK_NUMBER)
            self.slot_label = f"slot {slot_id} {slot_name or ''}".rstrip()
            if slot.class_id == _EVENT_SLOT:
                # Markers: attached once every track is read, as the adapter does.
                event_slots.append(slot)
                if number is not None:
                    track_keys[(slot_id, number)] = None
                continue
            if slot.class_id != _TIMELINE_SLOT:
                raise self.unsupported(f"a {self.class_name(slot)} (static data)")
            rate = _rate(slot)
            segment = slot.strong(_SEGMENT)
            if segment is None:
                raise self.unsupported("a slot without a segment")
            nested = segment.class_id == _NESTED_SCOPE
            if nested:
                segment = self.nested_scope(segment)
            kind = segment.class_id
            self.nested_keys = []
            track: otio.schema.Track | None = None
            valuable = False
            if kind == _TIMECODE:
                # An empty track, which the adapter drops; the primary timecode slot gives the
                # timeline's start.
                if global_start is None and number == 1:
                    global_start = RationalTime(segment.int(_TIMECODE_START) or 0, rate)
            elif kind in (_EDGE_CODE, _PULLDOWN):
                pass
            elif kind == _OPERATION_GROUP and _over_a_sequence(segment):
                track, valuable = self.track_effect(segment, slot_name or "TimelineMobSlot", rate)
            elif kind == _SEQUENCE:
                track, valuable = self.sequence(segment, slot_name or "TimelineMobSlot", rate)
            elif kind in (_SOURCE_CLIP, _FILLER, _SELECTOR, _OPERATION_GROUP):
                # A slot holding one item, no sequence: the adapter's slot track holds it as
                # it holds a one-item sequence.
                item = self.item(segment, rate)
                track = otio.schema.Track(
                    name=slot_name or "TimelineMobSlot", kind=_media_kind(self.kind_of(segment))
                )
                track.append(item)
                valuable = not isinstance(item, otio.schema.Gap)
            else:
                raise self.unsupported(f"a slot holding a {self.class_name(segment)}")
            if number is not None:
                track_keys[(slot_id, number)] = track
            if nested:
                # The nested scope's sequence is numbered 1 within the slot; the adapter folds
                # it into the slot's track.
                track_keys[(slot_id, 1)] = track
            for key, copied in self.nested_keys:
                track_keys[key] = copied
            if track is not None:
                tracks.append((track, valuable))
        for slot in event_slots:
            self.slot_label = f"slot {slot.uint(_SLOT_ID)} (markers)"
            for marker, key in self.event_markers(slot):
                self.attach_marker(marker, key, track_keys, timeline)
        self.slot_label = ""
        for clip, _reach, windows in self.effect_clips.values():
            # The adapter trims the tracks inside each effect to its length, dropping the
            # markers whose start falls outside a trimmed clip.
            kept = [
                marker.clone()
                for marker in clip.markers
                if all(window.contains(marker.marked_range.start_time) for window in windows)
            ]
            if len(kept) != len(clip.markers):
                clip.markers[:] = kept
        self.effect_clips = {}
        # The adapter removes tracks holding nothing but gaps, unless a marker sits there.
        timeline.tracks.extend(
            track for track, valuable in tracks if valuable or _has_markers(track)
        )
        if global_start is not None:
            timeline.global_start_time = global_start
        return timeline

    def nested_scope(self, scope: AAFObject) -> AAFObject:
        """The one sequence of a nested scope (Avid wraps a track's sequence in one): the
        adapter folds the scope's stack and the sequence's track into the slot's track."""
        segments = scope.vector(_SCOPE_SLOTS)
        if len(segments) != 1:
            raise self.unsupported(f"a nested scope of {len(segments)} segments")
        if segments[0].class_id != _SEQUENCE:
            raise self.unsupported(f"a nested scope holding a {self.class_name(segments[0])}")
        return segments[0]

    def attach_marker(
        self,
        marker: otio.schema.Marker,
        key: tuple[int, int],
        track_keys: dict[tuple[int, int], otio.schema.Track | _CopiedSlot | None],
        timeline: otio.schema.Timeline,
    ) -> None:
        """Put a composition marker where the adapter puts it: on the item of the described
        track at its position (a transition gives the item it starts in), in the item's own
        time; on the track when no item is there; on the timeline's stack when no track has
        the marker's numbers; on the clip whose copied master slot has them (the last such
        clip), when the marker falls within that slot's media."""
        if key not in track_keys:
            timeline.tracks.markers.append(marker)
            return
        track = track_keys[key]
        start = marker.marked_range.start_time
        if isinstance(track, _CopiedSlot):
            # The adapter searches the copied master slot in its own time (its clip starts
            # at 0), then moves the marker into the clip's time as for any other clip.
            item = track.clip
            if start.value < 0 or start >= track.duration:
                raise self.unsupported(f"a marker outside the master slot {key} it describes")
            local = start + item.trimmed_range().start_time - item.range_in_parent().start_time
            marker.marked_range = TimeRange(local, marker.marked_range.duration)
            item.markers.append(marker)
            return
        if track is None or track.source_range is not None:
            raise self.unsupported(
                f"a marker on slot {key[0]} track {key[1]}, which is not a plain track"
            )
        item = track.child_at_time(start, shallow_search=True)
        if isinstance(item, otio.schema.Transition):
            index = track.index(item)
            if index in (0, len(track) - 1):
                raise self.unsupported("a marker on a transition at a track's end")
            before = track[index - 1]
            item = before if before.range_in_parent().contains(start) else track[index + 1]
        effect = self.effect_clips.get(id(item)) if item is not None else None
        if item is None or (
            effect is not None and start - item.range_in_parent().start_time >= effect[1]
        ):
            # Past the end (or past the input under an effect): the adapter leaves it on
            # the track, in the track's time (a top-level track starts at 0).
            track.markers.append(marker)
            return
        local = start + item.trimmed_range().start_time - item.range_in_parent().start_time
        marker.marked_range = TimeRange(local, marker.marked_range.duration)
        item.markers.append(marker)

    def track_effect(
        self, group: AAFObject, slot_name: str, rate: float
    ) -> tuple[otio.schema.Track | None, bool]:
        """A slot holding an effect over its whole sequence (Avid's audio track effects): the
        adapter keeps the sequence's own track, with the effect and the effect's length."""
        whole = self.py(group)
        operation = whole.getvalue("Operation")
        if operation is None or operation.getvalue("IsTimeWarp"):
            raise self.unsupported("a speed change over a whole slot")
        inputs = group.vector(_INPUT_SEGMENTS)
        if len(inputs) != 1 or inputs[0].class_id != _SEQUENCE:
            raise self.unsupported("a slot effect over anything but one sequence")
        track, valuable = self.sequence(inputs[0], "", rate, own_track=True)
        length = self.length(group)
        effect = otio.schema.Effect(name=operation.name, effect_name="")
        if (
            valuable
            and len(track) == 1
            and isinstance(track[0], otio.schema.Clip)
            and track[0].duration().value == length
        ):
            # One clip (OTIO's writer puts a pan on each audio slot): the adapter folds the
            # effect onto the clip, in a track named after the slot.
            only = track[0]
            del track[0]
            only.effects.append(effect)
            folded = otio.schema.Track(name=slot_name, kind=_media_kind(self.kind_of(group)))
            folded.append(only)
            self.trim_markers_to_clips(folded)
            return folded, True
        if not valuable or len(track) < 2 or track.duration().value != length:
            # The adapter trims, folds or drops these in ways not modelled here.
            raise self.unsupported("a slot effect over a short or empty sequence")
        if not any(isinstance(item, otio.schema.Transition) for item in track):
            self.trim_markers_to_clips(track)
        track.effects.append(effect)
        track.source_range = TimeRange(RationalTime(0, rate), RationalTime(length, rate))
        return track, True

    def trim_markers_to_clips(self, track: otio.schema.Track) -> None:
        """The clips of a sequence under a slot-wide effect: the adapter's stack for the
        effect trims its track (unless it holds transitions), dropping the markers of each clip
        that start outside the clip."""
        for item in track:
            if isinstance(item, otio.schema.Clip):
                _clip, reach, windows = self.effect_clips.get(
                    id(item), (item, item.source_range.duration, [])
                )
                windows.append(item.source_range)
                self.effect_clips[id(item)] = (item, reach, windows)

    def sequence(
        self, sequence: AAFObject, slot_name: str, rate: float, *, own_track: bool = False
    ) -> tuple[otio.schema.Track, bool]:
        """The sequence's track, and whether it holds more than gaps (the adapter drops
        tracks of gaps only, unless markers make them worth keeping)."""
        items: list[otio.core.Composable] = []
        has_transition = False
        valuable = False
        for component in sequence.vector(_COMPONENTS):
            if component.class_id == _TRANSITION:
                items.append(self.transition(component, rate))
                has_transition = True
                valuable = True
                continue
            item = self.item(component, rate)
            items.append(item)
            valuable = valuable or not isinstance(item, otio.schema.Gap)
        if has_transition:
            _fix_transitions(items, self)
        if len(items) == 1:
            # The adapter folds a one-item sequence into its slot's track.
            has_transition = False
        # The adapter keeps the sequence's own track in place of the slot's when the sequence
        # holds transitions; it names it after the class ("Sequence", pyaaf2's `name` of a
        # component).
        name = "Sequence" if has_transition or own_track else slot_name
        track = otio.schema.Track(name=name, kind=_media_kind(self.kind_of(sequence)))
        track.extend(items)
        return track, valuable

    def transition(self, component: AAFObject, rate: float) -> otio.schema.Transition:
        group = component.strong(_TRANSITION_GROUP)
        if group is None:
            # The adapter reads the transition's parameters from its operation group.
            raise self.unsupported("a transition without an operation group")
        operation = self.py(group)
        cut_point = component.int(_CUT_POINT) or 0
        transition = otio.schema.Transition(
            name="Transition",
            transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
            in_offset=RationalTime(cut_point, rate),
            out_offset=RationalTime(self.length(component) - cut_point, rate),
        )
        # What OTIO's AAF writer requires of a transition (when a result is written through it).
        points = []
        for parameter in operation.parameters.value:
            if isinstance(parameter, aaf2.misc.VaryingValue):
                points = [
                    {"Value": float(point.value), "Time": float(point.time)}
                    for point in parameter.getvalue("PointList")
                ]
                break
        transition.metadata["AAF"] = {
            "ClassName": "Transition",
            "CutPoint": cut_point,
            "PointList": points,
            "OperationGroup": {"Operation": _definition(operation.getvalue("Operation"))},
        }
        return transition

    def item(self, component: AAFObject, rate: float) -> otio.core.Item:
        """A sequence's clip or gap, with the effects over it and the take a selector shows."""
        kind = component.class_id
        if kind == _SOURCE_CLIP:
            return self.source_clip(component, rate)
        if kind == _FILLER:
            length = RationalTime(self.length(component), rate)
            return otio.schema.Gap(
                name="Filler", source_range=TimeRange(RationalTime(0, rate), length)
            )
        if kind == _OPERATION_GROUP:
            return self.effect_clip(component, rate)
        if kind == _SELECTOR:
            return self.selection(component, rate)
        raise self.unsupported(f"a {self.class_name(component)} in a sequence")

    def selection(self, selector: AAFObject, rate: float) -> otio.core.Item:
        """A selector as the adapter reads it: its selected take; a muted clip (the selection
        a filler) is its one alternate, disabled."""
        selected = selector.strong(_SELECTED)
        if selected is None:
            raise self.unsupported("a selector without a selection")
        if selected.class_id in (_FILLER, _SCOPE_REFERENCE):
            alternates = selector.vector(_ALTERNATES)
            if len(alternates) != 1:
                raise self.unsupported(f"a muted selector with {len(alternates)} alternates")
            if alternates[0].class_id not in (_SOURCE_CLIP, _FILLER):
                # A muted effect disables the adapter's whole track; not modelled.
                raise self.unsupported(f"a muted selector over a {self.class_name(alternates[0])}")
            item = self.item(alternates[0], rate)
            item.enabled = False
            return item
        item = self.item(selected, rate)
        if isinstance(item, otio.schema.Gap):
            raise self.unsupported("a selector showing a gap")
        return item

    def effect_clip(self, group: AAFObject, rate: float) -> otio.schema.Clip:
        """A clip under an effect (speed, audio gain or pan, a video filter, colour ...), as the
        adapter leaves it after simplifying: the input clip with the effect appended, cut to
        the effect's length (set to it under a time warp). Nested effects stack inner first."""
        whole = self.py(group)
        operation = whole.getvalue("Operation")
        if operation is None:
            raise self.unsupported("an effect without an operation definition")
        operation_name = operation.name
        is_time_warp = bool(operation.getvalue("IsTimeWarp"))
        inputs = group.vector(_INPUT_SEGMENTS)
        if len(inputs) != 1 or inputs[0].class_id not in (_SOURCE_CLIP, _OPERATION_GROUP):
            kinds = ", ".join(self.class_name(segment) for segment in inputs) or "nothing"
            raise self.unsupported(f"an effect ({operation_name!r}) over {kinds}")
        length = RationalTime(self.length(group), rate)
        if inputs[0].class_id == _SOURCE_CLIP:
            clip = self.source_clip(inputs[0], rate)
            reach, windows = clip.source_range.duration, []
        else:
            clip = self.effect_clip(inputs[0], rate)
            _inner, reach, windows = self.effect_clips[id(clip)]
        effect: otio.schema.Effect
        if not is_time_warp:
            effect = otio.schema.Effect(effect_name="")
        elif operation_name != "Motion Control":
            effect = otio.schema.TimeEffect(effect_name="")
        else:
            effect = self.speed(group, whole)
        effect.name = operation_name
        effect.metadata["AAF"] = {"Operation": {"Name": operation_name, "IsTimeWarp": is_time_warp}}
        clip.effects.append(effect)
        # The adapter's stack for the effect is `length` long and trims the clip to it (and
        # markers outside the trimmed clip); a clip under a time warp then takes that length.
        start, duration = clip.source_range.start_time, clip.source_range.duration
        windows.append(TimeRange(start, min(duration, length)))
        time_warped = any(e.metadata["AAF"]["Operation"]["IsTimeWarp"] for e in clip.effects)
        clip.source_range = TimeRange(start, length if time_warped else min(duration, length))
        # A marker is found on the clip only within every stack and the input clip.
        self.effect_clips[id(clip)] = (clip, min(reach, length), windows)
        return clip

    def speed(self, group: AAFObject, whole: Any) -> otio.schema.Effect:
        """A Motion Control effect: a constant speed or freeze, else (a speed curve) the
        adapter's unknown time effect."""
        parameters = {value.name: value for value in whole.parameters.value}
        scalar = None
        if "SpeedRatio" in parameters:
            scalar = self.time_scalar(self.length(group), parameters)
        if scalar is None:
            return otio.schema.TimeEffect(effect_name="Unknown Time Warp Effect")
        if scalar == 0:
            return otio.schema.FreezeFrame()
        return otio.schema.LinearTimeWarp(time_scalar=scalar)

    def time_scalar(self, length: int, parameters: dict[str, Any]) -> float | None:
        # As the adapter computes it: the slope of a two-point speed-offset map when there is
        # one (the SpeedRatio is wrong in many files), else 1 / SpeedRatio; None for a curve.
        offset_map = parameters.get("PARAM_SPEED_OFFSET_MAP_U")
        points = list(offset_map["PointList"].value) if offset_map is not None else []
        if len(points) > 2:
            return None
        if len(points) == 2:
            return float(points[1].value - points[0].value) / float(points[1].time - points[0].time)
        ratio = _plain(parameters["SpeedRatio"].value)
        ratio = ratio if isinstance(ratio, str) else str(ratio)
        if ratio == str(length):
            return 0.0
        if "/" in ratio:
            numerator, denominator = map(float, ratio.split("/"))
            return denominator / numerator
        return 1.0 / float(ratio)

    def source_clip(self, component: AAFObject, rate: float) -> otio.schema.Clip:
        mob = self.mob(component.raw(_SOURCE_ID))
        if mob is None or mob.class_id != _MASTER:
            kind = self.class_name(mob) if mob is not None else "missing mob"
            raise self.unsupported(f"a source clip of a {kind} (not a master clip)")
        template = self.master_clip(mob, component.uint(_SOURCE_SLOT_ID) or 0)
        start = RationalTime(component.int(_START_TIME) or 0, rate) + template.start
        clip = otio.schema.Clip(
            name=template.name,
            source_range=TimeRange(start, RationalTime(self.length(component), rate)),
        )
        references: dict[str, otio.core.MediaReference] = {}
        for index, (key, reference) in enumerate(template.references):
            if index == 0:
                key = otio.schema.Clip.DEFAULT_MEDIA_KEY
            else:
                base, number = key, 1
                while key in references:
                    key = f"{base}_{number:02d}"
                    number += 1
            references[key] = reference.clone()
        if references:
            clip.set_media_references(references, otio.schema.Clip.DEFAULT_MEDIA_KEY)
        metadata = dict(template.metadata)
        metadata["MediaKind"] = self.kind_of(component)
        clip.metadata["AAF"] = metadata
        clip.markers.extend(marker.clone() for marker in template.markers)
        if template.track_key is not None:
            self.nested_keys.append((template.track_key, _CopiedSlot(clip, template.duration)))
        return clip

    # --- master and source mobs ------------------------------------------------------------------

    def master_clip(self, mob: AAFObject, slot_id: int) -> _Clip:
        key = (mob.raw(_MOB_ID) or b"", slot_id)
        cached = self.clip_cache.get(key)
        if cached is not None:
            return cached
        name = mob.string(_MOB_NAME)
        slot = None
        # The master mob's own track map (the adapter attaches its markers within the mob):
        # (slot id, physical track number) -> slot id of a timeline slot, or None for an event
        # slot; a later slot with the same numbers wins, as in the adapter's dictionary.
        track_keys: dict[tuple[int, int], int | None] = {}
        event_slots = []
        for candidate in mob.vector(_MOB_SLOTS):
            candidate_id = candidate.uint(_SLOT_ID) or 0
            number = candidate.uint(_TRACK_NUMBER)
            if candidate.class_id == _EVENT_SLOT:
                event_slots.append(candidate)
                if number is not None:
                    track_keys[(candidate_id, number)] = None
                continue
            if candidate.class_id != _TIMELINE_SLOT:
                continue  # static slots: the adapter skips them
            if number is not None:
                track_keys[(candidate_id, number)] = candidate_id
            if candidate_id == slot_id:
                slot = candidate
        if slot is None:
            raise self.unsupported(f"master clip {name!r} has no slot {slot_id}")
        components = [c for c in _components(slot) if c.int(_LENGTH)]
        if len(components) == 1 and components[0].class_id == _ESSENCE_GROUP:
            # The adapter takes the first choice that has a length.
            components = [c for c in components[0].vector(_CHOICES) if c.int(_LENGTH)][:1]
        if len(components) != 1 or components[0].class_id != _SOURCE_CLIP:
            raise self.unsupported(f"master clip {name!r} is not one source clip")
        master_start = self.start_timecode(mob)
        chain = self.chain(mob, slot, components[0])
        in_range: TimeRange | None = None
        references: list[tuple[str, otio.core.MediaReference]] = []
        for chain_mob, chain_slot, chain_clip in reversed(chain):
            is_source = chain_mob.class_id == _SOURCE
            start_tc = self.start_timecode(chain_mob) if is_source else None
            available = _clip_range(chain_slot, chain_clip, in_range, start_tc)
            if is_source:
                references.extend(self.source_references(chain_mob, available, master_start))
            in_range = available
        assert in_range is not None
        clip_range = in_range
        if master_start is not None:
            clip_range = TimeRange(
                clip_range.start_time + master_start.start_time, clip_range.duration
            )
        references.reverse()
        comments = {}
        for tagged in mob.vector(_USER_COMMENTS):
            value = self.py(tagged)
            comments[value.name] = _plain(value.value)
        unc_path = comments.get("UNC Path")
        if unc_path:
            unc = otio.schema.ExternalReference(
                target_url=_url(unc_path), available_range=clip_range
            )
            unc.name = "UNC Path"
            references.insert(0, ("UNC Path", unc))
        metadata: dict[str, Any] = {
            "ClassName": "MasterMob",
            "Name": name,
            "MobID": str(MobID(bytes_le=mob.raw(_MOB_ID))),
        }
        if comments:
            metadata["UserComments"] = comments
        markers = []
        for event_slot in event_slots:
            for marker, described in self.event_markers(event_slot):
                if track_keys.get(described) != slot_id:
                    # Attached to another slot's clip, or left on the master mob's own
                    # timeline, which no composition clip carries.
                    continue
                start = marker.marked_range.start_time
                if start.value < 0 or start >= clip_range.duration:
                    raise self.unsupported(f"master clip {name!r} has a marker outside its media")
                # The marker in the clip's own time (its media's timecode included).
                marker.marked_range = TimeRange(
                    start + clip_range.start_time, marker.marked_range.duration
                )
                markers.append(marker)
        number = slot.uint(_TRACK_NUMBER)
        template = _Clip(
            name=name or "",
            start=clip_range.start_time,
            duration=clip_range.duration,
            rate=_rate(slot),
            references=references,
            metadata=metadata,
            markers=markers,
            track_key=(slot_id, number) if number is not None else None,
        )
        self.clip_cache[key] = template
        return template

    def chain(
        self, mob: AAFObject, slot: AAFObject, clip: AAFObject
    ) -> list[tuple[AAFObject, AAFObject, AAFObject]]:
        """Master mob -> file mob -> tape mob, each with the slot and clip leading on."""
        chain = [(mob, slot, clip)]
        seen = {mob.raw(_MOB_ID)}
        while True:
            next_mob = self.mob(clip.raw(_SOURCE_ID))
            if next_mob is None:
                return chain
            name = next_mob.string(_MOB_NAME)
            if next_mob.class_id != _SOURCE:
                raise self.unsupported(f"a master clip referring to a {self.class_name(next_mob)}")
            if next_mob.raw(_MOB_ID) in seen:
                raise MalformedTimeline(
                    f"{self.where()}: source mob {name!r} refers to itself", file=self.file
                )
            seen.add(next_mob.raw(_MOB_ID))
            wanted = clip.uint(_SOURCE_SLOT_ID)
            next_slot = next(
                (s for s in next_mob.vector(_MOB_SLOTS) if s.uint(_SLOT_ID) == wanted), None
            )
            if next_slot is None:
                return chain
            # The adapter follows the first source clip of the slot, whatever else it holds
            # (an essence group or effect there ends the chain, as here).
            components = _components(next_slot)
            next_clip = next((c for c in components if c.class_id == _SOURCE_CLIP), None)
            if next_clip is None:
                return chain
            chain.append((next_mob, next_slot, next_clip))
            mob, clip = next_mob, next_clip

    def event_markers(self, slot: AAFObject) -> list[tuple[otio.schema.Marker, tuple[int, int]]]:
        """An event slot's descriptive markers at their position in the slot's edit rate, each
        with the (slot id, physical track number) of the track it describes (its first
        described slot, on the event slot's own track number, as the adapter pairs them)."""
        event_slot = self.py(slot)
        number = event_slot.getvalue("PhysicalTrackNumber")
        rate = float(event_slot.edit_rate)
        segment = event_slot.segment
        if isinstance(segment, aaf2.components.Sequence):
            events = list(segment.components)
        else:
            events = [segment]
        markers = []
        for event in events:
            # Other events (comment markers, fillers) give the adapter nothing.
            if not isinstance(event, aaf2.components.DescriptiveMarker):
                continue
            described = list(event.getvalue("DescribedSlots") or ())
            position = event.getvalue("Position")
            comment = event.getvalue("Comment")
            if not described or position is None or comment is None or number is None:
                # The adapter fails on these.
                raise self.unsupported("a marker without a comment, position or described slot")
            length = event.getvalue("Length")
            marker = otio.schema.Marker(
                name=comment or "DescriptiveMarker",
                marked_range=TimeRange(
                    otio.opentime.from_frames(position, rate),
                    otio.opentime.from_frames(1 if length is None else length, rate),
                ),
                color=_marker_color(event),
            )
            marker.metadata["AAF"] = {
                "ClassName": "DescriptiveMarker",
                "Comment": comment,
                "Position": position,
                "AttachedSlotID": int(described[0]),
                "AttachedPhysicalTrackNumber": int(number),
            }
            markers.append((marker, (int(described[0]), int(number))))
        return markers

    def start_timecode(self, mob: AAFObject) -> TimeRange | None:
        """The mob's primary timecode (physical track 1), as the adapter finds it."""
        for slot in mob.vector(_MOB_SLOTS):
            timecode = next((c for c in _components(slot) if c.class_id == _TIMECODE), None)
            if timecode is None:
                continue
            if slot.uint(_TRACK_NUMBER) == 1:
                rate = _rate(slot)
                return TimeRange(
                    RationalTime(timecode.int(_TIMECODE_START) or 0, rate),
                    RationalTime(self.length(timecode), rate),
                )
        return None

    def source_references(
        self, mob: AAFObject, available: TimeRange, master_start: TimeRange | None
    ) -> list[tuple[str, otio.core.MediaReference]]:
        mob_name = mob.string(_MOB_NAME)
        descriptor = mob.strong(_DESCRIPTOR)
        if descriptor is None:
            raise self.unsupported(f"source mob {mob_name!r} has no essence descriptor")
        urls = [
            _url(url) for locator in descriptor.vector(_LOCATORS) if (url := locator.string(_URL))
        ]
        mob_id = str(MobID(bytes_le=mob.raw(_MOB_ID)))
        name = mob_name or mob_id
        if master_start is not None:
            available = TimeRange(
                available.start_time + master_start.start_time, available.duration
            )
        metadata = {"ClassName": "SourceMob", "Name": mob_name, "MobID": mob_id}
        references: list[tuple[str, otio.core.MediaReference]] = []
        for url in urls or [None]:
            reference: otio.core.MediaReference
            if url:
                reference = otio.schema.ExternalReference(target_url=url, available_range=available)
            else:
                reference = otio.schema.MissingReference(name=name, available_range=available)
            reference.name = name
            reference.metadata["AAF"] = metadata
            references.append((name, reference))
        return references


# Marker colours by hue (0..1, upper bounds), as the adapter estimates an RGB colour.
_HUES = (
    (0.04, otio.schema.MarkerColor.RED),
    (0.13, otio.schema.MarkerColor.ORANGE),
    (0.2, otio.schema.MarkerColor.YELLOW),
    (0.43, otio.schema.MarkerColor.GREEN),
    (0.52, otio.schema.MarkerColor.CYAN),
    (0.74, otio.schema.MarkerColor.BLUE),
    (0.82, otio.schema.MarkerColor.PURPLE),
    (0.93, otio.schema.MarkerColor.MAGENTA),
)


def _marker_color(event: Any) -> str:
    attributes = {
        tagged.name: tagged.value for tagged in event.getvalue("CommentMarkerAttributeList") or ()
    }
    return marker_color(attributes.get("_ATN_CRM_COLOR"), event.getvalue("CommentMarkerColor"))


def marker_color(name: Any, rgb: dict[str, int] | None) -> str:
    """Avid's colour name (`_ATN_CRM_COLOR`) when OTIO knows it, else the colour nearest to
    the marker's RGB (16 bits a channel), red without one: the adapter's estimate."""
    if name:
        named = getattr(otio.schema.MarkerColor, str(name).upper(), None)
        if named is not None:
            return named
    if not rgb:
        return otio.schema.MarkerColor.RED
    red, green, blue = (float(rgb[part]) / 65535.0 for part in ("red", "green", "blue"))
    exact = {
        (1.0, 0.0, 0.0): otio.schema.MarkerColor.RED,
        (0.0, 1.0, 0.0): otio.schema.MarkerColor.GREEN,
        (0.0, 0.0, 1.0): otio.schema.MarkerColor.BLUE,
        (0.0, 0.0, 0.0): otio.schema.MarkerColor.BLACK,
        (1.0, 1.0, 1.0): otio.schema.MarkerColor.WHITE,
    }.get((red, green, blue))
    if exact is not None:
        return exact
    hue, lightness, saturation = colorsys.rgb_to_hls(red, green, blue)
    if saturation < 0.2:
        return otio.schema.MarkerColor.WHITE if lightness > 0.65 else otio.schema.MarkerColor.BLACK
    if lightness < 0.13:
        return otio.schema.MarkerColor.BLACK
    if lightness > 0.9:
        return otio.schema.MarkerColor.WHITE
    color = next((c for bound, c in _HUES if hue <= bound), otio.schema.MarkerColor.RED)
    if color == otio.schema.MarkerColor.RED:  # a light red is pink
        return otio.schema.MarkerColor.PINK if lightness > 0.53 else otio.schema.MarkerColor.RED
    if color == otio.schema.MarkerColor.MAGENTA and hue < 0.89 and lightness < 0.42:
        return otio.schema.MarkerColor.PURPLE  # darker magentas look purple
    return color


def _rate(slot: AAFObject) -> float:
    rate = slot.rational(_EDIT_RATE)
    if rate is None or rate[1] == 0:
        raise MalformedTimeline(
            f"a timeline slot without a valid edit rate ({rate})", file=slot.storage.file
        )
    return rate[0] / rate[1]


def _over_a_sequence(group: AAFObject) -> bool:
    inputs = group.vector(_INPUT_SEGMENTS)
    return bool(inputs) and inputs[0].class_id == _SEQUENCE


def _has_markers(track: otio.schema.Track) -> bool:
    return bool(track.markers) or any(
        isinstance(item, otio.core.Item) and bool(item.markers) for item in track
    )


def _components(slot: AAFObject) -> list[AAFObject]:
    segment = slot.strong(_SEGMENT)
    if segment is None:
        return []
    if segment.class_id == _SEQUENCE:
        return segment.vector(_COMPONENTS)
    return [segment]


def _clip_range(
    slot: AAFObject, clip: AAFObject, in_range: TimeRange | None, start_tc: TimeRange | None
) -> TimeRange:
    """A clip's range in its slot, offset by the mob's timecode and clamped by the range the
    next mob down the chain holds (the adapter's _get_source_clip_ranges)."""
    rate = _rate(slot)
    start = RationalTime(clip.int(_START_TIME) or 0, rate)
    duration = RationalTime(clip.int(_LENGTH) or 0, rate)
    if start_tc is not None:
        start = start + start_tc.start_time.rescaled_to(rate)
        duration = max(duration, start_tc.duration.rescaled_to(rate))
    if in_range is not None:
        start += in_range.start_time.rescaled_to(rate)
        return TimeRange(start, duration).clamped(in_range)
    return TimeRange(start, duration)


def _fix_transitions(items: list[otio.core.Composable], reader: _Reader) -> None:
    """Trim the items either side of each transition by its offsets, as the adapter does."""
    for index, item in enumerate(items):
        if isinstance(item, otio.schema.Transition):
            continue
        before = items[index - 1] if index > 0 else None
        after = items[index + 1] if index + 1 < len(items) else None
        beside = isinstance(before, otio.schema.Transition) or isinstance(
            after, otio.schema.Transition
        )
        if beside and item.effects:
            raise reader.unsupported("a speed change beside a transition")
        current = item.source_range
        if isinstance(before, otio.schema.Transition):
            current = TimeRange(
                current.start_time + before.in_offset, current.duration - before.in_offset
            )
        if isinstance(after, otio.schema.Transition):
            current = TimeRange(current.start_time, current.duration - after.out_offset)
        item.source_range = current
