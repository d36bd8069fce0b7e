"""Tests of cairn.store (the case database) on SQLite and PostgreSQL."""
