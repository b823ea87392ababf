"""Retrieval evaluation: labelled questions in, recall@k / MRR / nDCG per search mode out."""
