"""Output rules: decided before any clip is generated, with the right name suggested."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from timeline.output_rules import OutputRefused, file_mode, plan_output

DATA = Path(__file__).resolve().parents[2] / "data" / "timelines"


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    names = ("premiere_example.xml", "two_projects.fcpxml", "premiere_example.edl", "simple.aaf")
    return {
        name.rsplit(".", 1)[1]: Path(shutil.copy(DATA / name, tmp_path / name)) for name in names
    }


def test_result_format_is_the_inputs_unless_asked(inputs: dict[str, Path], tmp_path: Path) -> None:
    assert plan_output(tmp_path / "out.xml", timeline=inputs["xml"]).result_format == "fcp_xml"
    assert plan_output(tmp_path / "o.aaf", timeline=inputs["aaf"]).result_format == "aaf"
    asked = plan_output(tmp_path / "out.otio", timeline=inputs["xml"], requested_format="otio")
    assert asked.result_format == "otio"


def test_edl_input_is_answered_in_otio_and_says_so(inputs: dict[str, Path], tmp_path: Path) -> None:
    plan = plan_output(tmp_path / "cut_foley.otio", timeline=inputs["edl"])
    assert plan.result_format == "otio"
    assert any("EDL cannot carry" in note for note in plan.notes)
    with pytest.raises(OutputRefused, match=r"name it .*x\.otio"):
        plan_output(tmp_path / "x.edl", timeline=inputs["edl"])


def test_contradicting_extension_is_refused_with_the_right_one(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(OutputRefused) as raised:
        plan_output(tmp_path / "out.otio", timeline=inputs["fcpxml"])
    message = str(raised.value)
    assert "result is fcpxml" in message and "out.fcpxml" in message and "--format otio" in message
    with pytest.raises(OutputRefused, match=r"out\.xml"):
        plan_output(tmp_path / "out.fcpxml", timeline=inputs["fcpxml"], requested_format="xml")


def test_output_equal_to_input_folder_or_unwritable_is_refused(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(OutputRefused, match="the input is never overwritten"):
        plan_output(inputs["xml"], timeline=inputs["xml"])
    with pytest.raises(OutputRefused, match="existing folder"):
        plan_output(tmp_path, timeline=inputs["xml"])
    with pytest.raises(OutputRefused, match="does not exist"):
        plan_output(tmp_path / "no" / "out.xml", timeline=inputs["xml"])
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(OutputRefused, match="not writable"):
            plan_output(locked / "out.xml", timeline=inputs["xml"])


def test_file_mode_follows_the_umask() -> None:
    previous = os.umask(0o027)
    try:
        assert file_mode() == 0o640
    finally:
        os.umask(previous)


def test_atomic_result_files_follow_the_umask(tmp_path: Path) -> None:
    from plugin_server.pipeline.atomic import write_bytes_atomically

    previous = os.umask(0o022)
    try:
        write_bytes_atomically(tmp_path / "result.xml", b"<xmeml/>")
    finally:
        os.umask(previous)
    assert (tmp_path / "result.xml").stat().st_mode & 0o777 == 0o644


def test_generate_refuses_output_on_the_input_before_the_job(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    before = inputs["xml"].read_bytes()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "plugin_server.cli",
            "generate",
            str(inputs["xml"]),
            "-o",
            str(inputs["xml"]),
            "--media-root",
            str(tmp_path),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "never overwritten" in result.stderr and "Traceback" not in result.stderr
    assert inputs["xml"].read_bytes() == before
    assert not (tmp_path / "premiere_example_audio").exists()


def test_client_refuses_a_contradicting_extension_before_contacting_the_server(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from plugin_server import client_cli

    # Nothing listens on port 9: a request would fail with exit status 3, not 2.
    code = client_cli.main(
        ["generate", str(inputs["fcpxml"]), "-o", str(tmp_path / "out.otio"),
         "--server", "127.0.0.1:9", "--quiet"]
    )  # fmt: skip
    assert code == 2
    error = capsys.readouterr().err
    assert "name it" in error and "out.fcpxml" in error
    assert not (tmp_path / "out.otio").exists()


def test_generate_refuses_a_document_with_duplicate_ids_and_writes_nothing(
    tmp_path: Path,
) -> None:
    source = (DATA / "native" / "fcp7_features.xml").read_text()
    broken = tmp_path / "cut.xml"
    broken.write_text(source.replace('id="clipitem-4"', 'id="clipitem-3"'))
    output = tmp_path / "cut_foley.xml"
    result = subprocess.run(
        [sys.executable, "-m", "plugin_server.cli", "generate", str(broken),
         "-o", str(output), "--media-root", str(tmp_path), "--quiet"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert 'duplicate id: <clipitem id="clipitem-3"' in result.stderr
    assert "cut.xml: duplicate id" in result.stderr and "Traceback" not in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["cut.xml"]
