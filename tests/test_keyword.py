"""Keyword search on SQLite FTS5 and PostgreSQL full text: safe queries, ranking, filters, consistency."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from docqa.errors import InvalidInput
from docqa.search.keyword import fts5_query, keyword_ranking, query_terms, tsquery_text
from docqa.types import SearchFilters
from tests.conftest import random_unit
from tests.helpers import TOPICS, RawSQL, make_chunks

HOSTILE = [
    '"',
    '""',
    "'",
    '"unbalanced',
    "AND",
    "OR",
    "NOT",
    "a AND b OR NOT c",
    "*",
    "**",
    "chain*",
    "NEAR(",
    "NEAR(a b, 2)",
    "text:chain",
    "heading:x",
    "^chain",
    "(",
    ")",
    "((a) OR",
    "{a b}",
    "-chain",
    "+chain",
    "chain -rain",
    "a & b | !c",
    "a:*",
    "<->",
    "\\",
    "%",
    "_",
    "--",
    ";",
    "DROP TABLE chunks;",
    "café naïve 日本語 Ωmega",
    "x²",
    "🙂",
    "\x00",
    "\t\n",
    "1998",
    "0.5",
    "e-mail",
    "it's",
    "l'été",
    "what is the",
    "the and of",
]


def keyword(store, query: str, k: int = 10, **filters) -> list:
    return store.search(query, mode="keyword", k=k, filters=SearchFilters(**filters))


def test_query_terms_quote_and_drop_stop_words() -> None:
    assert query_terms("How often should I lubricate the chain?") == ["often", "lubricate", "chain"]
    assert query_terms("to be or not to be") == ["to", "be", "or", "not"]  # only stop-words: keep them
    assert query_terms('NEAR( "x* AND') == ["near", "x"]
    assert query_terms("!!! ??") == []
    assert fts5_query(["near", "x"]) == '"near" OR "x"'
    assert tsquery_text(["near", "x"]) == "'near' | 'x'"


def test_fts_hostile_queries_never_error(store) -> None:
    store.add_document(make_chunks(TOPICS + ["NEAR the chain AND the rain, café naïve"]), filename="t.txt")
    for query in HOSTILE:
        for mode in ("keyword", "hybrid", "vector"):
            if not query.strip():
                with pytest.raises(InvalidInput):
                    store.search(query, mode=mode)
                continue
            hits = store.search(query, mode=mode, k=5)
            assert len(hits) <= 5, (query, mode)
    assert keyword(store, "NEAR(")[0].content.startswith("NEAR the chain")
    assert keyword(store, "café naïve")[0].content.startswith("NEAR the chain")


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=40))
def test_any_text_is_a_valid_full_text_query(store, text: str) -> None:
    """Whatever surrounds it (quotes, operators, NUL-free unicode), a word of the corpus is still found."""
    if not store.list_documents():
        store.add_document(make_chunks(TOPICS), document_id="topics")
    with store.db.connection() as conn:
        ids, scores = keyword_ranking(conn, store.collection, f"{text} descaling", 10)
    assert len(ids) == len(scores) == len(set(ids)) <= 10
    assert scores == sorted(scores, reverse=True)
    descaling = next(h.chunk_id for h in store.search("descaling", mode="keyword", k=1))
    assert descaling in ids


def test_rare_word_ranks_first_and_partial_matches_still_rank(store) -> None:
    store.add_document(make_chunks(TOPICS), filename="topics.txt")
    hits = keyword(store, "descaling schedule for my espresso machine")
    assert hits[0].content == TOPICS[0]
    partial = keyword(store, "espresso quokka")  # one word matches, one does not
    assert [h.content for h in partial] == [TOPICS[0]]
    assert all(h.score > 0 for h in hits)
    assert hits == sorted(hits, key=lambda h: -h.score)


def test_stemming_matches_other_word_forms(store) -> None:
    store.add_document(make_chunks(TOPICS), filename="topics.txt")
    assert keyword(store, "lubricating chain")[0].content == TOPICS[1]
    assert keyword(store, "vaccine storage")[0].content == TOPICS[4]


def test_filters_apply_before_ranking(store) -> None:
    # 30 documents mention "chain"; the best-ranked ones are NOT in the filter, yet k results come back.
    strong = [
        store.add_document(make_chunks(["chain chain chain"]), filename=f"s{i}.txt", metadata={"team": "a"}).document_id
        for i in range(20)
    ]
    weak = [
        store.add_document(
            make_chunks([f"a long text that mentions the chain once among many other words {i}"]),
            filename=f"w{i}.txt",
            metadata={"team": "b"},
        ).document_id
        for i in range(10)
    ]
    assert keyword(store, "chain", k=5)[0].document_id in strong
    filtered = keyword(store, "chain", k=5, metadata={"team": "b"})
    assert len(filtered) == 5 and {h.document_id for h in filtered} <= set(weak)
    by_id = keyword(store, "chain", k=50, document_ids=tuple(weak[:3]))
    assert {h.document_id for h in by_id} == set(weak[:3])


def test_other_collections_and_failed_documents_are_invisible(store) -> None:
    store.add_document(make_chunks(["the zeppelin hangar"]), filename="z.txt")
    raw = RawSQL(store.settings.database_url)
    other = raw.insert_document(collection="other", filename="o.txt")
    raw.insert_chunk(other, "zeppelin in another collection", random_unit(1)[0], collection="other")
    failed = raw.insert_document(filename="f.txt", status="failed")
    raw.insert_chunk(failed, "zeppelin in a failed document", random_unit(1)[0])
    raw.close()
    assert [h.content for h in keyword(store, "zeppelin")] == ["the zeppelin hangar"]


def test_index_follows_update_delete_and_reingest(store) -> None:
    doc = store.add_document(make_chunks(["the aardvark digs burrows", "owls hunt at night"]), filename="a.txt")
    assert keyword(store, "aardvark")[0].document_id == doc.document_id
    store.add_document(
        make_chunks(["the pangolin eats ants", "owls hunt at night"]), document_id=doc.document_id, filename="a.txt"
    )
    assert keyword(store, "aardvark") == []
    assert [h.content for h in keyword(store, "pangolin")] == ["the pangolin eats ants"]
    store.delete_document(doc.document_id)
    assert keyword(store, "pangolin") == [] and keyword(store, "owls") == []


def test_index_follows_plain_sql_writes_from_another_connection(store) -> None:
    raw = RawSQL(store.settings.database_url)
    doc = raw.insert_document(filename="external.txt")
    chunk = raw.insert_chunk(doc, "an external note about the okapi", random_unit(1)[0])
    assert [h.chunk_id for h in keyword(store, "okapi")] == [chunk]
    raw.execute("UPDATE chunks SET text = ? WHERE id = ?", ("now it is about the narwhal", chunk))
    assert keyword(store, "okapi") == []
    assert [h.chunk_id for h in keyword(store, "narwhal")] == [chunk]
    raw.execute("UPDATE chunks SET heading = ? WHERE id = ?", ("Tapir section", chunk))
    assert [h.chunk_id for h in keyword(store, "tapir")] == [chunk]
    raw.delete_chunk(chunk)
    assert keyword(store, "narwhal") == [] and keyword(store, "tapir") == []
    raw.close()


def test_index_survives_a_forced_rebuild(store) -> None:
    store.add_document(make_chunks(TOPICS), filename="topics.txt")
    before = [h.chunk_id for h in keyword(store, "library merchant")]
    store.sync("force")
    assert [h.chunk_id for h in keyword(store, "library merchant")] == before
    with store.db.connection() as conn:
        if not conn.is_pg:  # the FTS5 index agrees with its content table
            conn.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)")
            conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")
    assert [h.chunk_id for h in keyword(store, "library merchant")] == before


def test_keyword_sees_writes_without_waiting_for_the_index(store) -> None:
    result = store.add_document(make_chunks(["a wombat appears"]), filename="w.txt", sync=False)
    hits = store.search("wombat", mode="keyword", min_seq=result.seq)
    assert [h.document_id for h in hits] == [result.document_id]


def test_min_score_and_validation(store) -> None:
    store.add_document(make_chunks(TOPICS), filename="topics.txt")
    hits = keyword(store, "chain rain bread")
    assert len(hits) >= 2
    cut = store.search("chain rain bread", mode="keyword", min_score=hits[0].score)
    assert [h.chunk_id for h in cut] == [hits[0].chunk_id]
    for bad in ("", "   "):
        with pytest.raises(InvalidInput):
            keyword(store, bad)
    with pytest.raises(InvalidInput):
        store.search("chain", mode="fuzzy")
    with pytest.raises(InvalidInput):
        store.search("chain", mode="keyword", k=0)


def test_selective_filter_below_the_overfetched_top_list(store) -> None:
    # more strong matches outside the filter than the fast path over-fetches (4k + 20): the exact re-rank kicks in
    for i in range(70):
        store.add_document(make_chunks([f"gecko gecko {i}"]), filename=f"s{i}.txt", metadata={"z": "out"}, sync=False)
    inside = [
        store.add_document(
            make_chunks([f"one gecko hidden in a much longer sentence about lizards {i}"]),
            filename=f"in{i}.txt",
            metadata={"z": "in"},
            sync=False,
        ).document_id
        for i in range(6)
    ]
    hits = keyword(store, "gecko", k=5, metadata={"z": "in"})
    assert len(hits) == 5 and {h.document_id for h in hits} <= set(inside)
    assert hits == sorted(hits, key=lambda h: -h.score)
    assert len(keyword(store, "gecko", k=60)) == 60


def test_cjk_words_inside_a_sentence_are_found(store) -> None:
    """東京 inside 東京は日本の首都です: no spaces, two characters; word and trigram tokenizers both miss it."""
    texts = [
        "東京は日本の首都です。人口が多い都市です。",
        "大阪は食べ物で有名な都市です。",
        "서울은 한국의 수도입니다",
        "Kyoto temples",
    ]
    for i, text in enumerate(texts):
        store.add_document(make_chunks([text]), document_id=f"cjk{i}")
    assert [h.content for h in keyword(store, "東京")][:1] == [texts[0]]
    assert keyword(store, "首都")[0].content == texts[0]
    assert [h.content for h in keyword(store, "有名な")] == [texts[1]]  # 有名 and 名な: only the Osaka chunk
    assert [h.content for h in keyword(store, "수도")] == [texts[2]]
    assert keyword(store, "京") and keyword(store, "北京") == []  # one character; a word that is not there
    mixed = [h.content for h in keyword(store, "Kyoto 東京")]
    assert set(mixed[:2]) == {texts[0], texts[3]}  # both rankings fused
    assert [h.content for h in keyword(store, "東京", document_ids=("cjk1",))] == []  # filters apply
    assert [h.content for h in store.search("東京", mode="hybrid", k=1)] == [texts[0]]


def test_sqlite_keyword_plans_look_ids_up_by_rowid_without_statistics(settings, embedder) -> None:
    """Right after a bulk load (no ANALYZE) SQLite must not scan the collection to filter the ranked ids."""
    from docqa.app import Docqa

    if settings.database_url.startswith("postgres"):
        return
    library = Docqa.open(settings, embedder=embedder)
    for d in range(5):
        library.add_document(make_chunks(TOPICS), document_id=f"d{d}", sync=False)
    statements: list[str] = []
    with library.db.connection() as conn:
        conn.raw.set_trace_callback(statements.append)
        keyword_ranking(conn, library.collection, "espresso descaling chain", 3)
        conn.raw.set_trace_callback(None)
        ranked = [s for s in statements if "JOIN documents" in s and "chunks c" in s]
        assert ranked
        for statement in ranked:
            plan = " ".join(str(r[-1]) for r in conn.fetchall("EXPLAIN QUERY PLAN " + statement))
            assert "chunks_members" not in plan and "SCAN c" not in plan, plan
    library.close()
