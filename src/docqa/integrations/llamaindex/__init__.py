"""LlamaIndex: a vector store over a docqa collection. Needs `pip install 'docqa[llamaindex]'`.

from llama_index.core import StorageContext, VectorStoreIndex
from docqa.integrations.llamaindex import DocqaLlamaVectorStore

store = DocqaLlamaVectorStore(embed_model=embed_model, data_dir="./data", collection="notes")
index = VectorStoreIndex.from_documents(documents, storage_context=StorageContext.from_defaults(vector_store=store),
                                        embed_model=embed_model)
"""

from docqa.integrations.llamaindex.vector_store import DocqaLlamaVectorStore

__all__ = ["DocqaLlamaVectorStore"]
