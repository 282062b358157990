"""Sinks: where counted events go (the embedded SQLite store, metrics, video)."""
