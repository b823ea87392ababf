"""Question answering over retrieved chunks: extractive by default, an OpenAI-compatible LLM optionally."""
