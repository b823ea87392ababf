"""docqa: a semantic index for document question answering.

The SQL database is the source of truth; the FAISS index is a derived cache
that the sync engine keeps provably equal to it.
"""

__version__ = "0.1.0"
