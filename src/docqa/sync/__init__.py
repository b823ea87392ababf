"""The sync engine: the only writer of the FAISS index, and the live follower that asks it to catch up."""
