"""cairn.report."""
