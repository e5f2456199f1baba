"""The DaVinci Resolve script: `flow` (plain Python: dialog values, client call, result),
`host` (every Resolve call), `install` (`foley-client install-resolve-script`). The file a user
drops into Resolve is plugins/resolve/Foley.py, a loader that finds this package and calls
`host.main`."""
