"""Bundled sample data: the demo clip (PETS 2009 S2.L1 as OpenCV's vtest; see NOTICE)."""

from pathlib import Path

DATA_DIR = Path(__file__).parent
DEMO_CLIP = DATA_DIR / "vtest.mp4"
