"""The cached per-word token count is exactly the MiniLM tokenizer's count."""

from __future__ import annotations

import pytest


@pytest.mark.model
@pytest.mark.parametrize(
    "text",
    [
        "Plain words, with punctuation; and numbers 3.14 or 1,000!",
        "café naïve résumé — accents and dashes",
        "CJK 日本語のテキスト and 中文 mixed in",
        "tabs\tand\nnewlines\r\nand\u00a0nbsp\u2003em-space",
        "control\x0bchars\x0cand\x00nul, snake_case_words, $5€ +/-^`~",
        "averyveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryverylongword"
        * 2,
        "",
    ],
)
def test_cached_word_count_equals_the_tokenizer(text):
    from docqa.embedders.tokenizer import count_tokens, count_tokens_exact

    assert count_tokens(text) == count_tokens_exact(text)


@pytest.mark.model
def test_cached_word_count_equals_the_tokenizer_on_the_samples():
    from pathlib import Path

    from docqa.embedders.tokenizer import count_tokens, count_tokens_exact
    from docqa.ingest import parse_file

    for path in sorted((Path(__file__).resolve().parent.parent / "samples").glob("*.*")):
        if path.suffix in (".md", ".txt", ".html", ".pdf", ".docx"):
            text = parse_file(path).text
            for start in range(0, len(text), 700):
                piece = text[start : start + 900]
                assert count_tokens(piece) == count_tokens_exact(piece), (path.name, start)
