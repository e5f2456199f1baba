"""`foley-client install-resolve-script`: put plugins/resolve/Foley.py where Resolve lists it.

Resolve lists the scripts under `Fusion/Scripts/Utility` on every page (Workspace > Scripts).
The folders, per Resolve's Developer/Scripting/README.txt ("Specific user" and "All users"):

    macOS    ~/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts
             /Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts
    Windows  %APPDATA%\\Blackmagic Design\\DaVinci Resolve\\Support\\Fusion\\Scripts
             %PROGRAMDATA%\\Blackmagic Design\\DaVinci Resolve\\Fusion\\Scripts
    Linux    ~/.local/share/DaVinciResolve/Fusion/Scripts
             /opt/resolve/Fusion/Scripts

The copy is the loader with two values filled in: the folders that hold this package and its
two dependencies (grpcio, protobuf) for this interpreter, and this interpreter's version, so
that Resolve's own Python finds the client without a pip install of its own. Written
atomically; running the command again changes nothing when nothing changed.
"""

from __future__ import annotations

import platform
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath

import plugin_server
from plugin_server.pipeline.atomic import write_bytes_atomically

SCRIPT_NAME = "Foley.py"
# Where the wheel puts the script ([tool.setuptools.data-files] in pyproject.toml).
DATA_SUBDIR = ("share", "foley-backend", "resolve")
PATHS_LINE = "FOLEY_PATHS = []"
VERSION_LINE = 'FOLEY_PYTHON_VERSION = ""'
_RESOLVE = ("Blackmagic Design", "DaVinci Resolve")


class InstallError(RuntimeError):
    """The script cannot be installed; the message says why and what to do."""


@dataclass(frozen=True)
class InstallResult:
    """`action`: "installed" (new), "updated" (different before) or "unchanged"."""

    path: Path
    action: str
    dry_run: bool


def scripts_folder(
    system: str, *, all_users: bool, home: PurePath, environ: Mapping[str, str]
) -> PurePath:
    """Resolve's Utility scripts folder on `system` ("Darwin", "Windows", "Linux")."""
    if system == "Darwin":
        base = PurePosixPath("/") if all_users else PurePosixPath(home)
        return base.joinpath("Library", "Application Support", *_RESOLVE, "Fusion", "Scripts",
                             "Utility")  # fmt: skip
    if system == "Windows":
        variable = "PROGRAMDATA" if all_users else "APPDATA"
        root = environ.get(variable)
        if not root:
            raise InstallError(f"%{variable}% is not set; name the folder with --dest")
        support = () if all_users else ("Support",)
        return PureWindowsPath(root).joinpath(*_RESOLVE, *support, "Fusion", "Scripts", "Utility")
    if system == "Linux":
        base = (
            PurePosixPath("/opt/resolve")
            if all_users
            else PurePosixPath(home, ".local", "share", "DaVinciResolve")
        )
        return base / "Fusion" / "Scripts" / "Utility"
    raise InstallError(f"DaVinci Resolve does not run on {system}; name the folder with --dest")


def script_source() -> Path:
    """The loader in this checkout (plugins/resolve/) or where the wheel installed it."""
    candidates = [
        Path(plugin_server.__file__).resolve().parents[1] / "plugins" / "resolve" / SCRIPT_NAME,
        Path(sysconfig.get_path("data")).joinpath(*DATA_SUBDIR, SCRIPT_NAME),
        Path(sys.prefix).joinpath(*DATA_SUBDIR, SCRIPT_NAME),
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise InstallError(
        f"the Resolve script is not installed with this package (looked in "
        f"{', '.join(str(c.parent) for c in candidates)}); reinstall foley-backend"
    )


def import_paths() -> list[str]:
    """The folders Resolve's Python needs on sys.path: the one holding plugin_server/, and
    those holding grpc/ and google/protobuf/ (often the same site-packages)."""
    import google.protobuf
    import grpc

    folders = [
        Path(plugin_server.__file__).resolve().parents[1],
        Path(grpc.__file__).resolve().parents[1],
        Path(google.protobuf.__file__).resolve().parents[2],
    ]
    unique: list[str] = []
    for folder in folders:
        if str(folder) not in unique:
            unique.append(str(folder))
    return unique


def render(template: str, paths: list[str], python_version: str) -> str:
    """The loader with its two settings filled in; raises InstallError if they are missing."""
    for line in (PATHS_LINE, VERSION_LINE):
        if template.count(f"\n{line}\n") != 1:
            raise InstallError(f"the Resolve script has no line {line!r} to fill in")
    return template.replace(f"\n{PATHS_LINE}\n", f"\nFOLEY_PATHS = {paths!r}\n").replace(
        f"\n{VERSION_LINE}\n", f"\nFOLEY_PYTHON_VERSION = {python_version!r}\n"
    )


def install(
    destination: Path | None = None,
    *,
    all_users: bool = False,
    dry_run: bool = False,
    system: str | None = None,
    home: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> InstallResult:
    """Write the filled-in loader into `destination` (default: Resolve's Utility folder for
    this user, or all users)."""
    import os

    if destination is None:
        folder = scripts_folder(
            system or platform.system(),
            all_users=all_users,
            home=home or Path.home(),
            environ=os.environ if environ is None else environ,
        )
        destination = Path(folder)
    target = destination / SCRIPT_NAME
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    content = render(script_source().read_text(encoding="utf-8"), import_paths(), version)
    try:
        previous = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        previous = None
    except OSError as error:
        raise InstallError(f"cannot read {target}: {error.strerror}") from error
    action = "installed" if previous is None else "updated"
    if previous == content:
        return InstallResult(target, "unchanged", dry_run)
    if not dry_run:
        try:
            write_bytes_atomically(target, content.encode("utf-8"))
        except OSError as error:
            raise InstallError(
                f"cannot write {target}: {error.strerror}"
                + ("; all-users folders need an administrator" if all_users else "")
            ) from error
    return InstallResult(target, action, dry_run)
