"""`foley-client install-resolve-script`: Resolve's folder on each system, the filled-in script,
atomic and idempotent writes."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest

from plugin_server import client_cli
from plugin_server.integrations.resolve import install as installer
from plugin_server.integrations.resolve.install import (
    InstallError,
    install,
    render,
    script_source,
    scripts_folder,
)

WINDOWS_ENV = {
    "APPDATA": r"C:\Users\ed\AppData\Roaming",
    "PROGRAMDATA": r"C:\ProgramData",
}


@pytest.mark.parametrize(
    ("system", "all_users", "expected"),
    [
        (
            "Darwin",
            False,
            PurePosixPath(
                "/Users/ed/Library/Application Support/Blackmagic Design/DaVinci Resolve/"
                "Fusion/Scripts/Utility"
            ),
        ),
        (
            "Darwin",
            True,
            PurePosixPath(
                "/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts/"
                "Utility"
            ),
        ),
        (
            "Windows",
            False,
            PureWindowsPath(
                r"C:\Users\ed\AppData\Roaming\Blackmagic Design\DaVinci Resolve\Support\Fusion"
                r"\Scripts\Utility"
            ),
        ),
        (
            "Windows",
            True,
            PureWindowsPath(
                r"C:\ProgramData\Blackmagic Design\DaVinci Resolve\Fusion\Scripts\Utility"
            ),
        ),
        (
            "Linux",
            False,
            PurePosixPath("/Users/ed/.local/share/DaVinciResolve/Fusion/Scripts/Utility"),
        ),
        ("Linux", True, PurePosixPath("/opt/resolve/Fusion/Scripts/Utility")),
    ],
)
def test_resolve_scripts_folder_per_system(system: str, all_users: bool, expected: object) -> None:
    folder = scripts_folder(
        system, all_users=all_users, home=PurePosixPath("/Users/ed"), environ=WINDOWS_ENV
    )
    assert folder == expected


def test_windows_without_appdata_and_other_systems_ask_for_dest() -> None:
    with pytest.raises(InstallError, match="APPDATA"):
        scripts_folder("Windows", all_users=False, home=PurePosixPath("/"), environ={})
    with pytest.raises(InstallError, match="--dest"):
        scripts_folder("FreeBSD", all_users=False, home=PurePosixPath("/"), environ={})


def test_installed_script_names_this_client_and_python(tmp_path: Path) -> None:
    result = install(tmp_path)
    assert (result.action, result.path) == ("installed", tmp_path / "Foley.py")
    tree = ast.parse(result.path.read_text(encoding="utf-8"))
    values = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id.startswith("FOLEY_")
    }
    assert values["FOLEY_PYTHON_VERSION"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    paths = [Path(path) for path in values["FOLEY_PATHS"]]
    assert any((path / "plugin_server" / "client.py").is_file() for path in paths)
    assert any((path / "grpc").is_dir() for path in paths)
    assert any((path / "google" / "protobuf").is_dir() for path in paths)


def test_installing_again_changes_nothing_and_a_changed_copy_is_updated(tmp_path: Path) -> None:
    first = install(tmp_path)
    modified = first.path.stat().st_mtime_ns
    assert install(tmp_path).action == "unchanged"
    assert first.path.stat().st_mtime_ns == modified
    first.path.write_text("# an older version\n", encoding="utf-8")
    assert install(tmp_path).action == "updated"
    assert "FOLEY_PATHS = ['" in first.path.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Foley.py"]


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    result = install(tmp_path / "Utility", dry_run=True)
    assert result.action == "installed" and result.dry_run
    assert not (tmp_path / "Utility").exists()


def test_default_folder_follows_the_system_mapping(tmp_path: Path) -> None:
    result = install(system="Linux", home=tmp_path)
    assert result.path == tmp_path / ".local/share/DaVinciResolve/Fusion/Scripts/Utility/Foley.py"
    assert result.path.is_file()
    mac = install(system="Darwin", home=tmp_path)
    assert mac.path.parent.name == "Utility" and mac.path.is_file()


def test_a_failed_write_leaves_the_old_script_and_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "Foley.py"
    target.write_text("# the old script\n", encoding="utf-8")

    def crash(source: object, destination: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(InstallError, match="No space left on device"):
        install(tmp_path)
    assert target.read_text(encoding="utf-8") == "# the old script\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Foley.py"]


def test_a_destination_that_is_a_file_is_a_message(tmp_path: Path) -> None:
    blocker = tmp_path / "Utility"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(InstallError, match=r"Utility/Foley\.py: Not a directory"):
        install(blocker)


def test_render_refuses_a_script_without_its_settings() -> None:
    with pytest.raises(InstallError, match="FOLEY_PATHS"):
        render("print('no settings here')\n", ["/x"], "3.11")
    text = script_source().read_text(encoding="utf-8")
    assert render(text, ["/a b"], "3.12").count("FOLEY_PATHS = ['/a b']") == 1


def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = ["install-resolve-script", "--dest", str(tmp_path)]
    assert client_cli.main([*dest, "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith(f"would install: {tmp_path / 'Foley.py'}")
    assert not (tmp_path / "Foley.py").exists()
    assert client_cli.main(dest) == 0
    assert capsys.readouterr().out.startswith("installed: ")
    assert client_cli.main(dest) == 0
    assert capsys.readouterr().out.strip() == f"unchanged: {tmp_path / 'Foley.py'}"


def test_the_script_package_loads_without_media_or_model_packages() -> None:
    code = (
        "import sys, plugin_server.integrations.resolve.host; "
        "print(sorted(m for m in ('torch', 'av', 'numpy', 'opentimelineio') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_the_script_source_is_the_repository_file() -> None:
    assert script_source() == Path(installer.__file__).parents[3] / "plugins/resolve/Foley.py"
