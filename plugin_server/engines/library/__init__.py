"""The library engine: a studio's own sound-effects files on the picture's events.

Files, in the order data flows: options.py (engine options), describe.py (names, folders, bext
and iXML to words), audio.py (headers, samples, attacks), index.py (the SQLite/FTS5 index),
vocabulary.py (bed words, stop words), matching.py (prompt to files), ranking.py and clap.py
(CLAP text-to-audio ranking), picture.py (the procedural analysis, adapted), placement.py
(one-shots and beds), engine.py (the Engine). Nothing here imports torch unless a CLAP folder
is configured (clap.py, tiny_clap.py import it when used).
"""

from plugin_server.engines.library.engine import LibraryEngine

__all__ = ["LibraryEngine"]
