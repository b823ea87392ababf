"""LangChain: a `VectorStore` over a docqa collection, a retriever with docqa's hybrid search, and docqa's
embedders as LangChain `Embeddings`. Needs `pip install 'docqa[langchain]'`.

    from langchain_core.documents import Document
    from docqa.integrations.langchain import DocqaEmbeddings, DocqaVectorStore

    store = DocqaVectorStore(DocqaEmbeddings("minilm"), data_dir="./data", collection="notes")
    store.add_documents([Document("The fridge should be at 4 °C.", metadata={"room": "kitchen"})], ids=["fridge"])
    store.similarity_search("how cold is the fridge", k=1, filter={"room": "kitchen"})
    store.as_retriever(search_type="hybrid", search_kwargs={"k": 5}).invoke("fridge temperature")
"""

from docqa.integrations.langchain.embeddings import DocqaEmbeddings
from docqa.integrations.langchain.retriever import DocqaRetriever
from docqa.integrations.langchain.vectorstore import DocqaVectorStore

__all__ = ["DocqaEmbeddings", "DocqaRetriever", "DocqaVectorStore"]
