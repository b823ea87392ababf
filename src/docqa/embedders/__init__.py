from docqa.embedders.base import Embedder
from docqa.embedders.registry import available_embedders, get_embedder

__all__ = ["Embedder", "available_embedders", "get_embedder"]
