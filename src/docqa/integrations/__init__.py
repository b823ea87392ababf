"""Adapters to the frameworks people build document QA with: LangChain (`docqa[langchain]`) and LlamaIndex
(`docqa[llamaindex]`). Each is thin over the library API (`docqa.app.Docqa`), so what they write lives in the
same database as everything else and every sync guarantee holds for it (triggers, digest, repair)."""
