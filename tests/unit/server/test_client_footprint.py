"""The client library stays small enough to load inside an editor's own Python."""

from __future__ import annotations

import subprocess
import sys


def test_client_imports_neither_media_nor_model_packages() -> None:
    code = (
        "import sys, plugin_server.client, plugin_server.client_cli; "
        "print(sorted(m for m in ('torch', 'av', 'numpy', 'opentimelineio') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
