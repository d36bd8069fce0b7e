"""Real-world files: third-party tools write them at test time, cairn scans them."""
