"""Turn tracked detections into events: line crossings, zone entries and occupancy."""
