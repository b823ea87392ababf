"""Answers written by an OpenAI-compatible chat endpoint, from the retrieved passages only.

The model sees the question and numbered passages and must cite them as
[1], [2]; citations are renumbered by first use so that [n] in the answer is
always `sources[n-1]`. Any failure (unreachable, timeout, HTTP error, an
unusable body) raises LLMUnavailable with a short reason; the caller falls back to
the extractive answer and reports that reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import httpx

from docqa.errors import LLMUnavailable

NOT_FOUND_MARK = "NOT_FOUND"
SYSTEM_PROMPT = (
    "You answer questions using only the numbered passages provided. "
    "Cite every statement with the number of the passage it comes from, in square brackets, like [1] or [2]. "
    "Do not use any other knowledge. If the passages do not contain the answer, reply with exactly "
    f"{NOT_FOUND_MARK} and nothing else. Answer briefly, in the language of the question."
)
_CITATION = re.compile(r"([ \t]*)\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")


def build_messages(question: str, passages: Sequence[str]) -> list[dict[str, str]]:
    numbered = "\n\n".join(f"[{i}] {p.strip()}" for i, p in enumerate(passages, start=1))
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Passages:\n\n{numbered}\n\nQuestion: {question.strip()}"},
    ]


def chat_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base if base.endswith("/chat/completions") else base + "/chat/completions"


def chat(base_url: str, model: str, messages: list[dict[str, str]], timeout_s: float, api_key: str = "") -> str:
    """POST one chat completion and return the assistant's text."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    body = {"model": model, "messages": messages, "temperature": 0}
    try:
        response = httpx.post(chat_url(base_url), json=body, headers=headers, timeout=timeout_s)
    except httpx.TimeoutException:
        raise LLMUnavailable(f"LLM endpoint did not answer within {timeout_s:g} s") from None
    except httpx.HTTPError as exc:
        raise LLMUnavailable(f"LLM endpoint unreachable: {type(exc).__name__}") from None
    if response.status_code >= 400:
        raise LLMUnavailable(f"LLM endpoint returned HTTP {response.status_code}")
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise LLMUnavailable("LLM endpoint returned a response without an answer") from None
    if not isinstance(content, str) or not content.strip():
        raise LLMUnavailable("LLM endpoint returned an empty answer")
    return content.strip()


def is_not_found(text: str) -> bool:
    return text.strip().strip(".").upper() == NOT_FOUND_MARK


def map_citations(text: str, n_passages: int) -> tuple[str, list[int]]:
    """Renumber citations by first use; drop numbers outside 1..n.

    Returns (text, cited) where `cited[j]` is the 0-based passage index that
    the answer now calls [j+1]. With no valid citation, every passage is
    listed, in order (out-of-range citations are still removed).
    """
    order: list[int] = []

    def renumber(match: re.Match[str]) -> str:
        new = []
        for raw in re.split(r"\s*[,;]\s*", match.group(2)):
            index = int(raw) - 1
            if not 0 <= index < n_passages:
                continue
            if index not in order:
                order.append(index)
            new.append(str(order.index(index) + 1))
        return f"{match.group(1)}[{', '.join(dict.fromkeys(new))}]" if new else ""

    renumbered = _CITATION.sub(renumber, text)
    if not order:
        return renumbered.strip(), list(range(n_passages))
    return renumbered.strip(), order
