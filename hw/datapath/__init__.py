"""Node datapath: descriptor formats, matrix unit (docs/datapath.md)."""
