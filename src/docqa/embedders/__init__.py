from docqa.embedders.base import Embedder
from docqa.embedders.binding import embedder_for_collection
from docqa.embedders.registry import available_embedders, get_embedder, name_for_model

__all__ = ["Embedder", "available_embedders", "embedder_for_collection", "get_embedder", "name_for_model"]
