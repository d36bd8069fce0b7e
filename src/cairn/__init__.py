"""cairn: forensic triage of seized media."""

__version__ = "0.1.0"
