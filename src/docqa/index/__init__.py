"""FAISS wrappers and snapshot I/O. No SQL here."""
