"""Media I/O: decoding frames for engines, probing files, writing audio, window helpers.

- `frames`: the contract between decoding and engines (FrameSpec, MediaSpan, Frame, FrameSource).
- `decode.MediaFileSource`: the FrameSource over a file or image sequence (selection rule there).
- `probe.probe`: duration, rate, size, rotation and start timecode of a file.
- `audio_out.write_audio`: Broadcast WAV / FLAC, loudness, atomic writes.
- `windows`: handles around ranges, overlapping windows, equal-power crossfades.
- `errors`: the typed errors of all of the above.

Nothing is imported here, so importing the contract never loads PyAV.
"""
