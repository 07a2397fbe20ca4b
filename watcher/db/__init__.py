"""Storage: tables.py (schema), repo.py (every query), engine.py (connections), migrations/ (Alembic)."""
