"""The editorial layer: any editor's timeline in, aligned Foley tracks out.

Pure Python on OpenTimelineIO; it knows nothing of models, servers or media decoding.

- `formats`: `read_timeline` / `write_timeline` / `timeline_to_bytes` for OTIO, .otioz, .otiod,
  FCP 7 XML, FCPXML, AAF and CMX 3600 EDL (read only).
- `spotting`: `spot_clips` turns a timeline into `SpottedClip` records (see `records`).
- `placement`: the range maths behind it (nested trims, speeds, transitions).
- `relink`: finds media on this machine (prefix maps, search roots).
- `result`: `build_result` adds Foley tracks under the pictures.
- `rows`: the JSON rows of `foley-server spot --json`.
- `errors`: the typed errors; nothing else leaves this package on bad input.
"""
