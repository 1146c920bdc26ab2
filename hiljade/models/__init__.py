"""Records, the SQLAlchemy schema, the store and its migrations."""
