"""Wiring: feeds, detection lanes, cameras and sinks on threads; the runner and live metrics."""
