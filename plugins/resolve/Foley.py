"""Foley for the current DaVinci Resolve timeline (Workspace > Scripts > Foley).

A loader: it finds the foley-backend client package, then hands over to
plugin_server.integrations.resolve.host.main, which asks for the prompt, preset, engine and
server, exports the timeline as OTIO, generates and imports the result. Install it with
`foley-client install-resolve-script`, which fills in the two settings below; copied by hand,
set FOLEY_PYTHONPATH to the folders that hold plugin_server/, grpc/ and google/protobuf/.
See docs/resolve.md.
"""

import os
import sys

# Filled in by `foley-client install-resolve-script`: folders to put on sys.path, and the
# Python version (major.minor) those folders were installed for.
FOLEY_PATHS = []
FOLEY_PYTHON_VERSION = ""


def _load_foley():
    extra = [path for path in os.environ.get("FOLEY_PYTHONPATH", "").split(os.pathsep) if path]
    for path in reversed(FOLEY_PATHS + extra):
        if path not in sys.path:
            sys.path.insert(0, path)
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if FOLEY_PYTHON_VERSION and running != FOLEY_PYTHON_VERSION:
        # grpcio is compiled per Python version: a mismatch fails deep inside an import.
        # (print: Resolve's console is where a script's messages show.)
        print(
            f"Foley: the client was installed for Python {FOLEY_PYTHON_VERSION} but Resolve "
            f"runs Python {running}; run `foley-client install-resolve-script` with a Python "
            f"{running} that has foley-backend installed"
        )
        return None
    try:
        from plugin_server.integrations.resolve.host import main
    except ImportError as error:
        print(
            f"Foley: cannot load the foley-backend client ({error}); run "
            "`foley-client install-resolve-script` or set FOLEY_PYTHONPATH"
        )
        return None
    return main


def _resolve_globals():
    # Resolve defines `resolve`, `fusion` and `bmd` for scripts run from its Scripts menu; from
    # a terminal, its DaVinciResolveScript module gives the application (and no dialog).
    found = globals()
    app = found.get("resolve")
    if app is None:
        import DaVinciResolveScript

        app = DaVinciResolveScript.scriptapp("Resolve")
    fusion, bmd = found.get("fusion"), found.get("bmd")
    if bmd is not None and fusion is None:
        fusion = app.Fusion()
    return app, fusion, bmd


_main = _load_foley()
if _main is not None:
    _main(*_resolve_globals())
