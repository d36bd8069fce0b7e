"""Model files found on evidence: detection, hashes, metadata, static pickle inspection."""
