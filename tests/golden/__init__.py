"""Golden videos: generated clips with known line crossings, for end-to-end counting tests."""
