"""Paths from the wire stay under the media roots (reads) and the output root (writes)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from plugin_server.pipeline.errors import AccessRefused, InputNotFound, InvalidRequest
from plugin_server.server.security.paths import PathPolicy


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path, Path]:
    media = tmp_path / "media"
    (media / "shoot").mkdir(parents=True)
    (media / "shoot" / "a.mov").write_bytes(b"x")
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    output = tmp_path / "out"
    output.mkdir()
    return media, output, outside


def test_relative_and_absolute_paths_under_a_root_resolve(roots) -> None:
    media, output, _ = roots
    policy = PathPolicy([media], output)
    expected = (media / "shoot" / "a.mov").resolve()
    assert policy.request_input("shoot/a.mov", "media_path") == expected
    assert policy.request_input(str(media / "shoot" / "a.mov"), "media_path") == expected


@pytest.mark.parametrize(
    "text",
    [
        "../secret.txt",
        "shoot/../../secret.txt",
        "file:///etc/passwd",
        "http://x/a.mov",
        "C:/media/a.mov",
        "~/a.mov",
        "shoot\\..\\..\\secret.txt",
    ],
)
def test_escapes_and_urls_are_refused(roots, text: str) -> None:
    media, output, _ = roots
    with pytest.raises(AccessRefused):
        PathPolicy([media], output).request_input(text, "timeline.path")


def test_absolute_path_outside_the_roots_is_refused(roots) -> None:
    media, output, outside = roots
    with pytest.raises(AccessRefused, match="outside the server's media roots"):
        PathPolicy([media], output).request_input(str(outside), "timeline.path")


def test_symlink_inside_a_root_pointing_outside_is_refused(roots) -> None:
    media, output, outside = roots
    os.symlink(outside, media / "link.mov")
    policy = PathPolicy([media], output)
    with pytest.raises(AccessRefused):
        policy.request_input("link.mov", "media_path")
    with pytest.raises(AccessRefused):
        policy.media_file(media / "link.mov")


def test_missing_file_under_a_root_is_not_found(roots) -> None:
    media, output, _ = roots
    with pytest.raises(InputNotFound, match="not found under any media root"):
        PathPolicy([media], output).request_input("shoot/b.mov", "media_path")


def test_empty_and_nul_paths_are_invalid(roots) -> None:
    media, output, _ = roots
    policy = PathPolicy([media], output)
    for text in ("", "a\x00b"):
        with pytest.raises(InvalidRequest):
            policy.request_input(text, "media_path")


def test_output_dir_is_created_under_the_output_root(roots) -> None:
    media, output, _ = roots
    directory = PathPolicy([media], output).output_dir("jobs/one")
    assert directory == (output / "jobs" / "one").resolve()
    assert directory.is_dir()


@pytest.mark.parametrize("text", ["../elsewhere", "/tmp/elsewhere", "a/../../b"])
def test_output_dir_escapes_are_refused(roots, text: str) -> None:
    media, output, _ = roots
    with pytest.raises(AccessRefused):
        PathPolicy([media], output).output_dir(text)


def test_output_dir_through_a_symlink_out_of_the_root_is_refused(roots, tmp_path) -> None:
    media, output, _ = roots
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, output / "escape")
    with pytest.raises(AccessRefused, match="outside the output root"):
        PathPolicy([media], output).output_dir("escape/job")
    assert list(elsewhere.iterdir()) == []


def test_without_output_root_output_delivery_is_refused(roots) -> None:
    media, _, _ = roots
    with pytest.raises(AccessRefused, match="no output root"):
        PathPolicy([media], None).output_dir("job")


def test_relinking_targets_must_lie_under_a_media_root(roots) -> None:
    media, output, _ = roots
    policy = PathPolicy([media], output)
    assert policy.media_prefix(str(media / "shoot"), "media_maps") == str(
        (media / "shoot").resolve()
    )
    with pytest.raises(AccessRefused):
        policy.media_prefix("/etc", "media_maps")
    with pytest.raises(InvalidRequest, match="absolute"):
        policy.media_prefix("shoot", "media_maps")
