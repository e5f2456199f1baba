"""The procedural Foley engine: deterministic DSP synthesis driven by the picture and the prompt.

Files, in the order data flows: analysis.py (frames -> motion, using lighting.py for light
and cuts, motion.py, onsets.py and cadence.py for presentation times), events.py (visual events
as plain records, the public entry point for other engines), prompt.py + vocabulary.py (text ->
recipes), cues.py (motion -> events and envelopes at audio rate), recipes/ (one sound family
per file), synthesis.py (the mix), engine.py (the Engine).
"""

from plugin_server.engines.procedural.engine import ProceduralEngine
from plugin_server.engines.procedural.events import VisualEvent, detect_events, events_of

__all__ = ["ProceduralEngine", "VisualEvent", "detect_events", "events_of"]
