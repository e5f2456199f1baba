"""Where requests may read and write (paths.py), who may call (auth.py), transport (tls.py)."""
