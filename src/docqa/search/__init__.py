"""Search over a collection: vector (FAISS), keyword (SQL full text), hybrid."""
