"""SQL storage: schema, migrations, repositories, change log. No FAISS here."""

from docqa.storage.db import Connection, Database

__all__ = ["Connection", "Database"]
