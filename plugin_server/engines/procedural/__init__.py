"""The procedural Foley engine: deterministic DSP synthesis driven by the picture and the prompt.

Files, in the order data flows: analysis.py (frames -> motion, using motion.py and onsets.py),
prompt.py + vocabulary.py (text -> recipes), cues.py (motion -> events and envelopes at audio
rate), recipes/ (one sound family per file), synthesis.py (the mix), engine.py (the Engine).
"""

from plugin_server.engines.procedural.engine import ProceduralEngine

__all__ = ["ProceduralEngine"]
