"""Media relinking: prefix maps, search roots, ambiguity, and unresolved media per clip."""

from __future__ import annotations

from pathlib import Path

import pytest
from timeline_builders import clip, timeline, track

from timeline.errors import AmbiguousMedia, MediaNotFound, TimelineError
from timeline.records import ClipStatus, MediaMap
from timeline.relink import MediaResolver, media_map_from, parse_prefix_map, url_to_path
from timeline.spotting import spot_clips


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("file:///Volumes/Media/a%20b.mov", "/Volumes/Media/a b.mov"),
        ("file://localhost/D%3a/media/x.mov", "D:/media/x.mov"),
        ("file://localhost/Volumes/x.mov", "/Volumes/x.mov"),
        ("file://VSD/Tools_Media/x.mxf", "//VSD/Tools_Media/x.mxf"),
        ("/mnt/media/x.mov", "/mnt/media/x.mov"),
        ("C:\\media\\x.mov", "C:/media/x.mov"),
    ],
)
def test_media_urls_name_paths(url: str, path: str):
    assert url_to_path(url) == path


def test_non_file_urls_are_not_media_here():
    with pytest.raises(MediaNotFound, match="does not name a file"):
        url_to_path("https://example.com/a.mov")


def test_prefix_map_rewrites_the_mac_volume(tmp_path: Path):
    (tmp_path / "otio").mkdir()
    (tmp_path / "otio" / "IMG_0857.MOV").write_bytes(b"")
    resolver = MediaResolver(MediaMap(prefix_maps=(("/Volumes/Media", str(tmp_path)),)))
    found = resolver.resolve("file:///Volumes/Media/otio/IMG_0857.MOV")
    assert found == tmp_path / "otio" / "IMG_0857.MOV"


def test_prefix_map_matches_whole_path_components_only(tmp_path: Path):
    (tmp_path / "x.mov").write_bytes(b"")
    resolver = MediaResolver(MediaMap(prefix_maps=(("/Volumes/Med", str(tmp_path)),)))
    with pytest.raises(MediaNotFound):
        resolver.resolve("file:///Volumes/Media/x.mov")


def test_first_prefix_map_whose_file_exists_wins(tmp_path: Path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.mov").write_bytes(b"")
    rules = (("/Volumes/A", str(tmp_path / "a")), ("/Volumes/A", str(tmp_path / "b")))
    assert MediaResolver(MediaMap(prefix_maps=rules)).resolve("/Volumes/A/x.mov") == (
        tmp_path / "b" / "x.mov"
    )


def test_search_root_finds_a_file_by_base_name(tmp_path: Path):
    deep = tmp_path / "day1" / "card2"
    deep.mkdir(parents=True)
    (deep / "A001.mov").write_bytes(b"")
    resolver = MediaResolver(MediaMap(search_roots=(tmp_path,)))
    assert resolver.resolve("file:///Volumes/Card/A001.mov") == deep / "A001.mov"


def test_search_root_falls_back_to_case_insensitive_names(tmp_path: Path):
    (tmp_path / "img_0857.mov").write_bytes(b"")
    resolver = MediaResolver(MediaMap(search_roots=(tmp_path,)))
    assert resolver.resolve("/Volumes/Media/IMG_0857.MOV") == tmp_path / "img_0857.mov"


def test_two_files_with_the_same_name_is_an_error_naming_both(tmp_path: Path):
    for day in ("day1", "day2"):
        (tmp_path / day).mkdir()
        (tmp_path / day / "A001.mov").write_bytes(b"")
    resolver = MediaResolver(MediaMap(search_roots=(tmp_path,)))
    with pytest.raises(AmbiguousMedia) as caught:
        resolver.resolve("file:///Volumes/Card/A001.mov")
    message = str(caught.value)
    assert str(tmp_path / "day1" / "A001.mov") in message
    assert str(tmp_path / "day2" / "A001.mov") in message
    assert caught.value.candidates == (
        tmp_path / "day1" / "A001.mov",
        tmp_path / "day2" / "A001.mov",
    )


def test_the_same_file_under_two_roots_is_not_ambiguous(tmp_path: Path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "A001.mov").write_bytes(b"")
    resolver = MediaResolver(MediaMap(search_roots=(tmp_path, tmp_path / "sub")))
    assert resolver.resolve("/x/A001.mov") == tmp_path / "sub" / "A001.mov"


def test_unresolved_and_ambiguous_media_are_per_clip_reasons(tmp_path: Path):
    for day in ("day1", "day2"):
        (tmp_path / day).mkdir()
        (tmp_path / day / "twice.mov").write_bytes(b"")
    (tmp_path / "day1" / "once.mov").write_bytes(b"")
    edit = timeline(
        track(
            clip("twice", 0, 10, url="file:///Volumes/twice.mov"),
            clip("missing", 0, 10, url="file:///Volumes/missing.mov"),
            clip("once", 0, 10, url="file:///Volumes/once.mov"),
        )
    )
    clips = {c.name: c for c in spot_clips(edit, MediaMap(search_roots=(tmp_path,)))}
    assert clips["once"].status == ClipStatus.SPOTTED
    assert clips["twice"].status == ClipStatus.SKIPPED
    assert "day1/twice.mov" in clips["twice"].reason and "day2/twice.mov" in clips["twice"].reason
    assert clips["missing"].status == ClipStatus.SKIPPED
    assert "'/Volumes/missing.mov' not found" in clips["missing"].reason
    assert "--media-root" in clips["missing"].reason


def test_relative_paths_are_not_resolved_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "x.mov").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MediaNotFound):
        MediaResolver(MediaMap()).resolve("x.mov")
    assert MediaResolver(MediaMap(search_roots=(tmp_path,))).resolve("x.mov") == tmp_path / "x.mov"


def test_command_line_rules_are_checked(tmp_path: Path):
    assert parse_prefix_map("/Volumes/Media=/mnt/media") == ("/Volumes/Media", "/mnt/media")
    with pytest.raises(TimelineError, match="OLD=NEW"):
        parse_prefix_map("/Volumes/Media")
    with pytest.raises(TimelineError, match="not a directory"):
        media_map_from((), [tmp_path / "nowhere"])
    built = media_map_from(["/a=/b"], [tmp_path])
    assert built == MediaMap(prefix_maps=(("/a", "/b"),), search_roots=(tmp_path,))
