"""cairn.store: the case database (SQLite or PostgreSQL) behind the :class:`CaseStore` facade."""

from cairn.store.case_store import CaseFolderMismatch, CaseStore

__all__ = ["CaseFolderMismatch", "CaseStore"]
