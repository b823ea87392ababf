"""Chunk rows shaped like real ingest's, drawn from a measured corpus profile.

bench/corpus_profile.json (made by bench/corpus_profile.py from samples/ and
/usr/share/doc with docqa's own parsers and chunker) gives the distributions;
this module draws rows from them, deterministically from a seed:

- documents of realistic sizes: chunks per document from the profile,
  clipped to [min_chunks, max_chunks] (default 5-200); or exactly `docs`
  documents sharing the N chunks (sizes drawn from the profile, scaled);
- each chunk's text length from the profile's text-length quantiles, its
  words from the profile's vocabulary in their measured frequencies (with
  sentence punctuation and line breaks), so the tsvector / FTS5 index hold
  what they hold on real text;
- headings per section (a section is a run of ~4 chunks), lengths from the
  profile (empty where the profile has none), title-cased words;
- char offsets, token count (the profile's tokens per character), the
  content hash ingest computes (xxh3-128 of heading NUL text);
- metadata JSON on documents and chunks of the shape the HTTP API stores
  (the keys a clinical client sends, e.g. patient_id).

Thin rows (a 40-character text, no heading, `{}`) remain available as the
labelled floor: `thin=True`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xxhash

PROFILE = Path(__file__).with_name("corpus_profile.json")
# Share of words that repeat a recent one. Measured (bench/corpus_profile.py's chunks of 250 of its
# files, 10,128 chunks): real chunks give a 573-byte tsvector (heading A-weighted, as
# schema V2) for 475 characters of text; i.i.d. words gave 780 bytes for 488 characters, this
# share 625 for 488 (6% wider than real: the conservative side for the wide-row problem).
REPEAT = 0.65
CONTENT_TYPES = ["text/html", "application/pdf", "text/markdown", "text/plain", "application/vnd.openxmlformats"]
DEPARTMENTS = ["cardiology", "oncology", "radiology", "emergency", "pediatrics", "neurology", "surgery", "admin"]


def doc_id(doc_no: int) -> str:
    return f"00000000-0000-4000-8000-{doc_no:012d}"


def chunk_hash(heading: str, text: str) -> str:
    """What docqa.storage.repo.chunk_hash computes (kept here so the bench needs no docqa import)."""
    return xxhash.xxh3_128_hexdigest(heading.encode("utf-8") + b"\x00" + text.encode("utf-8"))


@dataclass(frozen=True)
class Layout:
    """Which document each chunk 1..N belongs to, and its ordinal there."""

    sizes: np.ndarray  # chunks per document
    doc_of: np.ndarray  # int64[N]: document number of chunk id i+1
    ordinal: np.ndarray  # int32[N]

    @property
    def n_docs(self) -> int:
        return len(self.sizes)


class Profile:
    def __init__(self, path: Path = PROFILE) -> None:
        p = json.loads(Path(path).read_text())
        self.raw = p
        self.q = np.asarray(p["quantiles"])
        self.text_chars = np.asarray(p["text_chars"])
        self.heading_chars = np.asarray(p["heading_chars"])
        self.chunks_per_doc = np.asarray(p["chunks_per_document"])
        self.tokens_per_char = p["mean_tokens"] / p["mean_text_chars"]
        words = [w for w, _ in p["vocabulary"]]
        counts = np.asarray([c for _, c in p["vocabulary"]], dtype=np.float64)
        self.words = np.asarray(words, dtype=object)
        self.p_words = counts / counts.sum()

    def draw(self, values: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.interp(rng.random(n), self.q, values)


def layout(
    n: int,
    profile: Profile | None,
    seed: int,
    docs: int = 0,
    min_chunks: int = 5,
    max_chunks: int = 200,
    per_doc: int = 10,
) -> Layout:
    """Document sizes for N chunks: from the profile (clipped), or `docs` documents, or `per_doc` each (thin)."""
    rng = np.random.default_rng(seed + 7)
    if profile is None:
        sizes = np.full((n + per_doc - 1) // per_doc, per_doc, dtype=np.int64)
        sizes[-1] = n - per_doc * (len(sizes) - 1)
    else:
        guess = docs or max(1, int(n / max(1.0, float(np.clip(profile.chunks_per_doc, min_chunks, max_chunks).mean()))))
        raw = np.clip(np.round(profile.draw(profile.chunks_per_doc, rng, guess * 2 + 16)), min_chunks, max_chunks)
        if docs:
            share = raw[:docs] * (n / raw[:docs].sum())  # the profile's shape, scaled to N chunks in `docs` documents
            sizes = np.maximum(1, np.floor(share)).astype(np.int64)
            order = np.argsort(-(share - np.floor(share)))  # largest remainders get the chunks left over
            short = n - int(sizes.sum())
            sizes[order[: max(0, short)]] += 1
            while sizes.sum() > n:  # the clamp to 1 can overshoot by a few
                sizes[np.argmax(sizes)] -= 1
        else:
            ends = np.cumsum(raw.astype(np.int64))
            k = int(np.searchsorted(ends, n)) + 1
            sizes = raw[:k].astype(np.int64)
            sizes[-1] -= int(sizes.sum()) - n
            sizes = sizes[sizes > 0]
    doc_of = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    starts = np.cumsum(sizes) - sizes
    ordinal = (np.arange(n, dtype=np.int64) - np.repeat(starts, sizes)).astype(np.int32)
    assert len(doc_of) == n
    return Layout(sizes, doc_of, ordinal)


class TextPool:
    """A long stream of words drawn from the profile's vocabulary; chunk texts are slices of it."""

    def __init__(self, profile: Profile, seed: int, words: int = 3_000_000, repeat: float = REPEAT) -> None:
        rng = np.random.default_rng(seed + 11)
        idx = rng.choice(len(profile.words), size=words, p=profile.p_words)
        # real text repeats its own words (a topic): a share of words copies one of the last 40,
        # which brings the tsvector per character to what real chunks give (see REPEAT)
        again = np.flatnonzero(rng.random(words) < repeat)
        idx[again] = idx[np.maximum(0, again - rng.integers(1, 40, len(again)))]
        picked = profile.words[idx]
        marks = rng.random(words)
        # sentence ends every ~14 words, a line break every ~60: real chunks are prose, lists, code
        tokens = [
            w + (".\n" if m < 0.016 else ". " if m < 0.07 else ", " if m < 0.12 else " ")
            for w, m in zip(picked.tolist(), marks.tolist())
        ]
        self.text = "".join(tokens)
        self.starts = np.cumsum([0] + [len(t) for t in tokens[:-1]])

    def slice(self, rng_value: float, length: int) -> str:
        i = int(rng_value * (len(self.starts) - 1))
        start = int(self.starts[i])
        end = min(len(self.text), start + max(1, length))
        return self.text[start:end].rstrip() or self.text[start : start + 1]


@dataclass
class Rows:
    """One batch of chunk rows, column by column (Python lists; embeddings as one array)."""

    ids: np.ndarray
    document_id: list[str]
    ordinal: list[int]
    text: list[str]
    char_start: list[int]
    char_end: list[int]
    token_count: list[int]
    heading: list[str]
    content_hash: list[str]
    metadata: list[str]
    vectors: np.ndarray


class RowMaker:
    """Realistic (or thin) rows for chunk ids 1..N, batch by batch, the same for the same seed."""

    def __init__(self, n: int, seed: int, thin: bool = False, docs: int = 0, profile_path: Path = PROFILE) -> None:
        self.thin = thin
        self.profile = None if thin else Profile(profile_path)
        self.layout = layout(n, self.profile, seed, docs=docs)
        self.seed = seed
        self.pool = None if thin else TextPool(self.profile, seed)  # type: ignore[arg-type]
        self._offsets: dict[int, int] = {}

    @property
    def n_docs(self) -> int:
        return self.layout.n_docs

    def document_rows(self) -> list[tuple[str, str, str, str, str, str]]:
        """(id, source, filename, content_type, content_hash, metadata json) per document."""
        out = []
        rng = np.random.default_rng(self.seed + 13)
        kinds = rng.integers(0, len(CONTENT_TYPES), self.n_docs)
        for d in range(self.n_docs):
            if self.thin:
                out.append((doc_id(d), f"bench://{d}", f"doc{d}.txt", "text/plain", "", "{}"))
                continue
            ct = CONTENT_TYPES[int(kinds[d])]
            ext = {"text/html": "html", "application/pdf": "pdf", "text/markdown": "md", "text/plain": "txt"}.get(
                ct, "docx"
            )
            name = f"report-{d:06d}.{ext}"
            meta = {
                "patient_id": f"P{d * 7919 % 10_000_000:07d}",
                "department": DEPARTMENTS[d % len(DEPARTMENTS)],
                "date": f"20{20 + d % 6}-{1 + d % 12:02d}-{1 + d % 28:02d}",
            }
            out.append(
                (
                    doc_id(d),
                    f"/data/records/{d % 97:02d}/{name}",
                    name,
                    ct,
                    xxhash.xxh3_128_hexdigest(name.encode()),
                    json.dumps(meta, sort_keys=True),
                )
            )
        return out

    def rows(self, ids: np.ndarray, vectors: np.ndarray) -> Rows:
        lay = self.layout
        idx = ids - 1
        docs = lay.doc_of[idx]
        ordinals = lay.ordinal[idx].tolist()
        doc_ids = [doc_id(int(d)) for d in docs.tolist()]
        if self.thin:
            texts = [f"synthetic benchmark chunk {int(i):010d}" for i in ids.tolist()]
            n = len(ids)
            return Rows(
                ids,
                doc_ids,
                ordinals,
                texts,
                [0] * n,
                [0] * n,
                [0] * n,
                [""] * n,
                [f"{int(i):016d}" for i in ids],
                ["{}"] * n,
                vectors,
            )
        p, pool = self.profile, self.pool
        assert p is not None and pool is not None
        rng = np.random.default_rng([self.seed, int(ids[0])])
        n = len(ids)
        lengths = np.maximum(1, np.round(p.draw(p.text_chars, rng, n))).astype(int).tolist()
        where = rng.random(n).tolist()
        texts = [pool.slice(w, L) for w, L in zip(where, lengths)]
        # a section (and its heading) spans ~4 chunks of a document; heading drawn per (doc, section)
        headings = []
        last: tuple[int, int] = (-1, -1)
        heading = ""
        for d, o in zip(docs.tolist(), ordinals):
            if (d, o // 4) != last:
                last = (d, o // 4)
                srng = np.random.default_rng([self.seed, d, o // 4])
                hl = round(float(np.interp(srng.random(), p.q, p.heading_chars)))
                heading = pool.slice(srng.random(), hl).title() if hl else ""
            headings.append(heading)
        starts, ends = [], []
        for d, o, t in zip(docs.tolist(), ordinals, texts):
            s = self._offsets.get(d, 0) if o else 0
            starts.append(s)
            ends.append(s + len(t))
            self._offsets[d] = s + len(t) + 1
        tokens = [max(1, min(200, round(len(t) * p.tokens_per_char))) for t in texts]
        hashes = [chunk_hash(h, t) for h, t in zip(headings, texts)]
        metas = [
            f'{{"department": "{DEPARTMENTS[d % len(DEPARTMENTS)]}", "patient_id": "P{d * 7919 % 10_000_000:07d}"}}'
            for d in docs.tolist()
        ]
        return Rows(ids, doc_ids, ordinals, texts, starts, ends, tokens, headings, hashes, metas, vectors)
