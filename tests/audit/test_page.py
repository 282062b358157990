"""The page's choices that need no browser: which thumbnails go in, and what it refers to."""

from __future__ import annotations

from aistack.audit.page import embedded_frames, viewer_offsets


def test_frames_around_a_crossing_scale_with_the_frame_rate() -> None:
    assert viewer_offsets(30.0) == [-12, -4, -1, 0, 1, 4, 12]
    assert viewer_offsets(10.0) == [-4, -2, -1, 0, 1, 2, 4]


def test_candidates_own_frames_go_in_first_then_their_neighbours_then_the_rest() -> None:
    available = range(1000)
    offsets = [-12, -4, -1, 0, 1, 4, 12]
    everything = embedded_frames(available, [100, 500], offsets, every=50, limit=1000)
    assert {100, 101, 99, 104, 96, 112, 88, 500, 0, 50, 950} <= set(everything)
    assert len(everything) == 14 + 20 - 2  # 0..950 in steps of 50; 100 and 500 counted once
    squeezed = embedded_frames(available, [100, 500], offsets, every=50, limit=6)
    assert squeezed == [99, 100, 101, 499, 500, 501]
    assert embedded_frames(range(10, 20), [9, 30], offsets, every=5, limit=100) == [10, 13, 15, 18]
