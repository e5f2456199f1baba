"""Integrations with editing software that runs our code inside its own process: today the
DaVinci Resolve script (`resolve/`). Each keeps the host application's API in one thin module."""
