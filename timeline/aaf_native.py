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
import tempfile
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import aaf2
from aaf2.mobid import MobID

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
    compositions = list(aaf_file.content.toplevel()) or list(aaf_file.content.compositionmobs())
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
            taken = {str(mob.mob_id) for mob in aaf_file.content.mobs}
            for lane in lanes:
                _add_lane(aaf_file, composition, lane, edit_rate, handles_frames, taken)
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


def _add_lane(
    aaf_file: Any,
    composition: Any,
    lane: FoleyLane,
    edit_rate: Fraction,
    handles: int,
    taken: set[str],
) -> None:
    slot = composition.create_sound_slot(edit_rate=edit_rate)
    slot["SlotName"].value = lane.name
    sequence = aaf_file.create.Sequence(media_kind="sound")
    sequence.components.value = []
    slot.segment = sequence
    position = 0
    for clip, generated in lane.clips:
        gap = clip.record_start_frame - position
        if gap < 0:
            raise ResultError("Foley clips of one lane overlap", clip=clip.name)
        if gap:
            sequence.components.append(aaf_file.create.Filler("sound", gap))
        duration = clip.record_duration_frames
        total = duration + 2 * handles
        content_hash = generated.metadata.get("content_hash")
        master, master_slot = _master_mob(
            aaf_file,
            clip.name,
            Path(generated.audio_path),
            edit_rate,
            total,
            avid_mob_id(clip.clip_id, content_hash),
            avid_mob_id(f"{clip.clip_id}/file", content_hash),
            taken,
        )
        source = composition.create_source_clip(
            slot_id=slot.slot_id, start=handles, length=duration, media_kind="sound"
        )
        source.mob = master
        source.slot = master_slot
        source.slot_id = master_slot.slot_id
        sequence.components.append(source)
        position = clip.record_start_frame + duration
    sequence.length = position


def _master_mob(
    aaf_file: Any,
    clip_name: str,
    audio_path: Path,
    edit_rate: Fraction,
    length: int,
    master_id: str,
    file_id: str,
    taken: set[str],
) -> tuple[Any, Any]:
    file_mob = aaf_file.create.SourceMob()
    file_mob.name = f"{FOLEY_MOB_PREFIX}{audio_path.name}"
    file_mob.mob_id = MobID(_unused(file_id, taken))
    descriptor = aaf_file.create.PCMDescriptor()
    locator = aaf_file.create.NetworkLocator()
    locator["URLString"].value = audio_url(audio_path)
    descriptor["Locator"].append(locator)
    descriptor["SampleRate"].value = _SAMPLE_RATE
    descriptor["AudioSamplingRate"].value = _SAMPLE_RATE
    descriptor["Channels"].value = 1
    descriptor["QuantizationBits"].value = 24
    descriptor["BlockAlign"].value = 3
    descriptor["AverageBPS"].value = 3 * _SAMPLE_RATE
    descriptor["Length"].value = int(length * _SAMPLE_RATE / edit_rate)
    file_mob.descriptor = descriptor
    aaf_file.content.mobs.append(file_mob)
    file_slot = file_mob.create_empty_slot(edit_rate=edit_rate, media_kind="sound")
    file_slot.segment.length = length

    master = aaf_file.create.MasterMob()
    master.name = f"{FOLEY_MOB_PREFIX}{clip_name}"
    master.mob_id = MobID(_unused(master_id, taken))
    aaf_file.content.mobs.append(master)
    master_slot = master.create_timeline_slot(edit_rate=edit_rate)
    master_clip = master.create_source_clip(
        slot_id=master_slot.slot_id, length=length, media_kind="sound"
    )
    master_clip.mob = file_mob
    master_clip.slot = file_slot
    master_clip.slot_id = file_slot.slot_id
    master_slot.segment = master_clip
    return master, master_slot


def _unused(identifier: str, taken: set[str]) -> str:
    """The derived id, or (only if the file already holds it) a variant of it."""
    candidate = identifier
    counter = 0
    while candidate in taken:
        counter += 1
        candidate = identifier[:-8] + f"{counter:08x}"
    taken.add(candidate)
    return candidate


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
