"""Watch folders: timelines exported into IN_DIR come back as results in OUT_DIR.

`files` says which entries are timelines and when they are complete, `state` what was already
processed (kept in OUT_DIR across restarts), `jobs` runs one timeline in-process or on a server,
`status` writes the `<base>.json` beside each result, `watcher` is the loop that ties them.
`foley-server watch` (plugin_server/commands/watch.py) is the command line.
"""
