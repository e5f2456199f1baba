"""The in-process job pipeline: timeline -> clip jobs -> engine -> audio files -> result timeline.

Both the gRPC service and `foley-server generate` drive it. Nothing here knows about protobuf or
gRPC: requests and events are plain records (`request.py`, `events.py`), errors are the typed
exceptions of `errors.py`, and the server maps them to status codes in one place.
"""
