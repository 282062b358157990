"""Accuracy: tracks and counts against ground truth, and exporting the figures."""
