"""Tracks and events: tracker adapters, line and zone counters, pose, one camera's state."""
