"""The library index: descriptions from names, folders, bext and iXML; every format and rate;
incremental updates; bad files skipped with a reason; FTS5 search speed."""

from __future__ import annotations

import logging
import os
import statistics
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from plugin_server.engines.library.index import LibraryIndex
from plugin_server.engines.library.records import BED, ONE_SHOT
from plugin_server.engines.library.synthetic import (
    make_bulk_library,
    make_library,
    write_audio,
)

MAX_BYTES = 64 << 20


def _index(tmp_path: Path, *libraries: Path, max_bytes: int = MAX_BYTES) -> LibraryIndex:
    return LibraryIndex(tmp_path / "work" / "index.sqlite", libraries, max_bytes)


def _names(matches: list) -> list[str]:
    return [m.file.path.name for m in matches]


def test_ucs_names_folders_bext_and_ixml_all_find_files(tmp_path: Path) -> None:
    library = make_library(tmp_path / "lib")
    index = _index(tmp_path, library.root)
    index.update()
    # UCS CatID "FEETWood": the FEET code expands to "footsteps"; FXName words are indexed.
    feet = _names(index.search(["footsteps"], ONE_SHOT))
    assert sorted(feet) == sorted(p.name for p in library.one_shots if "FEET" in p.name)
    assert _names(index.search(["smash"], ONE_SHOT)) == ["GLASBreak_Bottle Smash_GEN_SynthLib.wav"]
    # A folder name ("Interiors"), an iXML NOTE ("synthetic") and a bext description
    # ("generated") are words of the files they describe.
    assert _names(index.search(["interiors"], BED)) == [
        "ROOMTone_Quiet Office Room Tone_GEN_SynthLib.wav"
    ]
    assert sorted(_names(index.search(["synthetic"], BED))) == sorted(p.name for p in library.beds)
    assert len(index.search(["generated"], BED)) == 3
    # Porter stemming: "slamming" finds "Slam".
    assert len(index.search(["slamming"], ONE_SHOT)) == 3
    # The file matching more prompt words ranks first.
    assert _names(index.search(["metal", "door", "slam"], ONE_SHOT))[0].startswith("DOORMetl")


def test_every_format_rate_and_channel_count_is_indexed(tmp_path: Path) -> None:
    library = make_library(tmp_path / "lib")
    index = _index(tmp_path, library.root)
    summary = index.update()
    assert summary.added == 10 and not summary.skipped
    found = {m.file.path.suffix: m.file for m in index.search(["slam", "step", "smash"], ONE_SHOT)}
    assert set(found) == {".wav", ".flac", ".aiff"}
    rates = {m.file.sample_rate for m in index.search(["slam", "step", "smash"], ONE_SHOT)}
    assert rates == {44_100, 48_000, 96_000}
    channels = {m.file.channels for m in index.search(["slam", "step", "smash"], ONE_SHOT)}
    assert channels == {1, 2}
    (only,) = index.summaries()
    assert only.files == 10 and only.skipped == 0
    assert only.bytes == sum(p.stat().st_size for p in [*library.one_shots, *library.beds])
    assert only.duration_s == pytest.approx(7 * 0.25 + 3 * 2.5, abs=1e-3)


def test_update_reads_only_new_and_changed_files(tmp_path: Path) -> None:
    library = make_library(tmp_path / "lib")
    index = _index(tmp_path, library.root)
    assert index.update().added == 10
    fingerprint = index.fingerprint()

    again = index.update()
    assert (again.read, again.unchanged, again.removed) == (0, 10, 0)
    assert index.fingerprint() == fingerprint

    changed = next(iter(library.one_shots))
    write_audio(changed, np.full(4800, 0.1, np.float32), 48_000)
    os.utime(changed, ns=(1, 1_000_000_000))  # a different time, whatever the clock says
    removed = library.beds[0]
    removed.unlink()
    write_audio(tmp_path / "lib" / "New" / "DOORWood_Door Knock_GEN_X.wav", np.ones(480), 48_000)
    third = index.update()
    assert (third.added, third.updated, third.removed, third.unchanged) == (1, 1, 1, 8)
    assert index.fingerprint() != fingerprint
    assert _names(index.search(["knock"], ONE_SHOT)) == ["DOORWood_Door Knock_GEN_X.wav"]
    assert not index.search(["steady"], BED)  # the removed rain bed is gone from search


def test_bad_files_are_skipped_with_a_logged_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    library = make_library(tmp_path / "lib")
    bad = tmp_path / "lib" / "Bad"
    bad.mkdir()
    (bad / "DOORWood_Empty_GEN_X.wav").write_bytes(b"")
    (bad / "DOORWood_Text_GEN_X.wav").write_text("these are liner notes, not audio")
    # A RIFF header that promises a format chunk and ends: unreadable.
    (bad / "DOORWood_Truncated_GEN_X.wav").write_bytes(
        b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt "
    )
    write_audio(bad / "DOORWood_Huge_GEN_X.wav", np.zeros(48_000 * 40, np.float32), 48_000)
    outside = tmp_path / "outside.wav"
    write_audio(outside, np.ones(480, np.float32), 48_000)
    (bad / "DOORWood_Link_GEN_X.wav").symlink_to(outside)
    (bad / "notes.txt").write_text("not an audio name: ignored quietly")
    # Binary data that is not audio under FLAC and AIFF names (a renamed JPEG, say).
    noise = np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    (bad / "DOORWood_Binary_GEN_X.flac").write_bytes(b"\xff\xd8\xff\xe0" + noise)
    (bad / "DOORWood_Binary_GEN_X.aiff").write_bytes(b"FORM" + noise)

    index = _index(tmp_path, library.root, max_bytes=2 << 20)
    with caplog.at_level(logging.WARNING):
        summary = index.update()
    reasons = {s.path.name: s.reason for s in summary.skipped}
    assert "zero-length" in reasons["DOORWood_Empty_GEN_X.wav"]
    assert "not readable as audio" in reasons["DOORWood_Text_GEN_X.wav"]
    assert "not readable as audio" in reasons["DOORWood_Truncated_GEN_X.wav"]
    assert "huge" in reasons["DOORWood_Huge_GEN_X.wav"]
    assert "not readable as audio" in reasons["DOORWood_Binary_GEN_X.flac"]
    assert "not readable as audio" in reasons["DOORWood_Binary_GEN_X.aiff"]
    assert len(reasons) == 6 and summary.added == 10
    logged = caplog.text
    assert all(name in logged for name in reasons)
    assert "DOORWood_Link_GEN_X.wav: a link to outside the library" in logged
    assert index.summaries()[0].skipped == 6
    assert all("Bad" not in str(m.file.path) for m in index.search(["door"], ONE_SHOT))
    # Skipped files are remembered: not opened (nor logged) again until they change.
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        again = index.update()
    assert again.read == 0 and "zero-length" not in caplog.text


def test_a_damaged_index_file_is_rebuilt(tmp_path: Path) -> None:
    library = make_library(tmp_path / "lib")
    index = _index(tmp_path, library.root)
    index.path.parent.mkdir(parents=True, exist_ok=True)
    index.path.write_bytes(b"this is not an SQLite database" * 100)
    assert index.update().added == 10
    assert len(index.search(["door"], ONE_SHOT)) == 3


def test_prompt_words_are_never_read_as_query_syntax(tmp_path: Path) -> None:
    library = make_library(tmp_path / "lib")
    index = _index(tmp_path, library.root)
    index.update()
    for word in ('"', "NOT", "NEAR", "name:door", "*", "door OR", "AND"):
        index.search([word], ONE_SHOT)  # must not raise
    assert len(index.search(["door", '"door"'], ONE_SHOT)) == 3


def test_a_generated_library_indexes_and_searches_quickly(tmp_path: Path) -> None:
    # The suite's light version of tests/benchmarks/bench_library.py (10,000 files, < 10 s
    # to index, < 10 ms to search): 1,000 files here, with the same per-file budgets.
    count = 1_000
    make_bulk_library(tmp_path / "bulk", count)
    index = _index(tmp_path, tmp_path / "bulk")
    started = time.perf_counter()
    assert index.update().added == count
    assert time.perf_counter() - started < 10.0 * count / 10_000 * 3  # 3x margin: shared CI
    timings = []
    for words in (["slam"], ["door", "slam"], ["step", "wood", "creak"], ["rain"]):
        started = time.perf_counter()
        index.search(words, ONE_SHOT)
        timings.append(time.perf_counter() - started)
    assert statistics.median(timings) < 0.010
