"""cairn.pipeline."""
