"""cairn.signals."""
