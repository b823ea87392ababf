"""Real-ish documents for the campaign: the repository's samples/ plus generated text, Markdown and HTML
files of realistic lengths (log-normal around 5 KB, 300 B to 60 KB), deterministic for a seed."""

from __future__ import annotations

import html
import math
import random
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"

_WORDS = [
    "patient",
    "clinic",
    "follow",
    "up",
    "dosage",
    "tablet",
    "morning",
    "evening",
    "review",
    "symptoms",
    "pressure",
    "blood",
    "test",
    "result",
    "normal",
    "elevated",
    "referral",
    "cardiology",
    "ward",
    "discharge",
    "nurse",
    "physician",
    "appointment",
    "schedule",
    "policy",
    "retention",
    "audit",
    "log",
    "record",
    "access",
    "consent",
    "storage",
    "temperature",
    "refrigerator",
    "label",
    "expiry",
    "batch",
    "supplier",
    "invoice",
    "travel",
    "expense",
    "receipt",
    "approval",
    "manager",
    "budget",
    "quarter",
    "report",
    "incident",
    "outage",
    "search",
    "index",
    "rebuild",
    "database",
    "snapshot",
    "replica",
    "latency",
    "query",
    "garden",
    "soil",
    "compost",
    "seed",
    "water",
    "harvest",
    "volunteer",
    "tool",
    "shed",
    "bicycle",
    "chain",
    "brake",
    "tyre",
    "gear",
    "cable",
    "saddle",
    "espresso",
    "grind",
    "dose",
    "shot",
    "milk",
    "steam",
    "recipe",
    "flour",
    "butter",
    "sugar",
    "oven",
    "minutes",
    "history",
    "town",
    "river",
    "mill",
    "bridge",
    "council",
    "market",
    "railway",
    "school",
    "church",
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "is",
    "for",
    "on",
    "with",
    "as",
    "by",
    "at",
    "from",
    "that",
    "this",
    "which",
    "be",
    "are",
    "was",
    "were",
    "has",
    "have",
    "will",
    "must",
    "should",
    "may",
    "each",
    "every",
    "after",
    "before",
    "during",
    "within",
]


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 22))]
    return " ".join(words).capitalize() + rng.choice([".", ".", ".", "?", ";"])


def paragraph(rng: random.Random, sentences: int | None = None) -> str:
    return " ".join(_sentence(rng) for _ in range(sentences or rng.randint(2, 7)))


def document_text(rng: random.Random, target_bytes: int, marker: str = "") -> str:
    parts: list[str] = []
    size = 0
    while size < target_bytes:
        p = paragraph(rng)
        if marker and rng.random() < 0.3:
            p += f" {marker}"
        parts.append(p)
        size += len(p) + 2
    if marker:
        parts[0] = f"{marker} " + parts[0]
    return "\n\n".join(parts)


def realistic_size(rng: random.Random) -> int:
    return int(min(60_000, max(300, math.exp(rng.gauss(math.log(5_000), 0.9)))))


def render(kind: str, title: str, text: str) -> str:
    paras = text.split("\n\n")
    if kind == "md":
        out = [f"# {title}"]
        for i, p in enumerate(paras):
            if i and i % 4 == 0:
                out.append(f"## Section {i // 4}")
            out.append(p)
        return "\n\n".join(out) + "\n"
    if kind == "html":
        body = "".join(f"<p>{html.escape(p)}</p>\n" for p in paras)
        return f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>\n{body}</body></html>\n"
    return f"{title}\n\n{text}\n"


def generate(folder: Path, count: int, seed: int, prefix: str = "gen") -> list[Path]:
    """Write `count` generated documents into `folder`; returns their paths."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        kind = rng.choice(["txt", "txt", "md", "html"])
        title = f"{prefix} document {i}: " + " ".join(rng.choice(_WORDS) for _ in range(3))
        path = folder / f"{prefix}-{i:04d}.{kind}"
        path.write_text(render(kind, title, document_text(rng, realistic_size(rng))), encoding="utf-8")
        paths.append(path)
    return paths


def copy_samples(folder: Path) -> list[Path]:
    """The repository's sample documents (PDF, DOCX, HTML, Markdown, text), README and tools left out."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for src in sorted(SAMPLES.iterdir()):
        if src.is_file() and src.name != "README.md":
            dst = folder / src.name
            shutil.copyfile(src, dst)
            out.append(dst)
    return out
