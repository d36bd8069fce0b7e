"""cairn.demo."""
