"""Persistence: SQLAlchemy tables and the unit of work (SQLite, PostgreSQL)."""
