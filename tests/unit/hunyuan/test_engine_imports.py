"""Import rules of the engines package.

- Nothing under plugin_server/engines/ imports `plugin_server.planning` or
  `plugin_server.finetune`: the memory guard, the model sizes and the adapter cache are passed
  in by callers (plugin_server/planning/wiring.py). Checked on the source's syntax tree, so a
  function-level or TYPE_CHECKING import counts too.
- The hunyuan engine imports without PyAV: only decoding a file needs it (the GPU machines
  that benchmark it have none), so a fresh interpreter with `av` blocked must import it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import plugin_server

ENGINES = Path(plugin_server.__file__).parent / "engines"
FORBIDDEN = ("plugin_server.planning", "plugin_server.finetune")
_PREFIXES = tuple(f"{name}." for name in FORBIDDEN)


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return sorted(found)


def _violations(root: Path) -> list[str]:
    return [
        f"{path.relative_to(root.parent)}:{line} imports {module}"
        for path in sorted(root.rglob("*.py"))
        for line, module in _imported_modules(path)
        if module.startswith(FORBIDDEN)
        or module in ("plugin_server.planning", "plugin_server.finetune")
    ]


def test_engines_import_neither_planning_nor_finetune() -> None:
    assert list(ENGINES.rglob("*.py")), "no engine sources found"
    assert _violations(ENGINES) == []


def test_the_rule_sees_every_kind_of_import(tmp_path: Path) -> None:
    package = tmp_path / "engines"
    package.mkdir()
    (package / "bad.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from plugin_server.finetune.adapters import AdapterCache\n"
        "def f():\n"
        "    import plugin_server.planning.ceiling\n"
        "from plugin_server import planning\n",
        encoding="utf-8",
    )
    assert [v.split(" imports ")[1] for v in _violations(package)] == [
        "plugin_server.finetune.adapters",
        "plugin_server.finetune.adapters.AdapterCache",
        "plugin_server.planning.ceiling",
        "plugin_server.planning",
    ]


def test_the_hunyuan_engine_imports_without_pyav() -> None:
    code = (
        "import sys\n"
        "sys.modules['av'] = None\n"  # any `import av` now raises ImportError
        "from plugin_server.engines.registry import EngineConfig, create_engine\n"
        "engine = create_engine('hunyuan', EngineConfig(weights_dir=None, device='cpu'))\n"
        "print(engine.name, engine.info().available)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["hunyuan", "False"]
