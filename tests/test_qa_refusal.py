"""Refusal with more than a score (issue 13, item 4), and the choice of the answering unit (item 2)."""

from __future__ import annotations

import numpy as np
import pytest

from docqa.qa.extractive import Candidate, score_candidates
from docqa.qa.passages import Unit
from docqa.qa.refusal import expected_type, has_type, name_like_words
from docqa.qa.types import NOT_FOUND_TEXT
from docqa.types import ChunkInput


def test_name_like_words() -> None:
    assert name_like_words("How do I set the InnoDB buffer pool size in MySQL?") == ["InnoDB", "MySQL"]
    assert name_like_words("Which Kubernetes operator should I use?") == ["Kubernetes"]
    assert name_like_words("How do I hash with crypt() and gen_salt()?") == ["crypt", "gen_salt"]
    assert name_like_words("What is an SQL path and the RMAN tool?") == ["RMAN"]  # short acronyms are words
    assert name_like_words("How long is a GP appointment slot?") == []
    assert name_like_words("Where is the fridge?") == []  # the first word is capitalised anyway
    assert name_like_words("How do I set up unattended-upgrades?") == ["unattended-upgrades"]  # a package name


def test_expected_answer_types() -> None:
    assert expected_type("How many connections are allowed by default?") == "quantity"
    assert expected_type("how much memory may a sort use?") == "quantity"
    assert expected_type("When will PostgreSQL 18 be released?") == "time"
    assert expected_type("When several lines match a connection, which one is used?") is None  # a condition
    assert expected_type("When I create a subscription, does it copy the rows?") is None
    assert expected_type("Who leads the core team today?") == "agent"
    assert expected_type("Which index type is recommended?") is None
    assert has_type("quantity", "The default is typically 100 connections.")
    assert has_type("quantity", "It takes four megabytes.")
    assert not has_type("quantity", "It depends on the workload.")
    assert has_type("time", "The release is planned for September.") and not has_type("time", "It is fast.")
    assert has_type("agent", "Ask Jane Smith at the desk.") and has_type("agent", "Ring pharmacy on 4410.")
    assert not has_type("agent", "The core is a group of parts.")


def _corpus(store) -> None:
    store.settings = store.settings.replace(qa_min_score=0.0)  # the floor is not what is tested here
    texts = [
        "PostgreSQL 15 adds the MERGE command for conditional inserts, updates and deletes of table rows.",
        "The espresso machine is descaled with citric acid dissolved in warm water from the kettle.",
        "The bicycle chain is cleaned with a degreaser, then oiled with a light chain lubricant.",
        "The garden committee meets in the pavilion to plan the seed swap and the summer fair.",
    ]
    store.add_document(
        [ChunkInput(text=t, ordinal=0, char_start=0, char_end=len(t)) for t in texts[:1]], filename="pg.txt"
    )
    for n, text in enumerate(texts[1:]):
        store.add_document([ChunkInput(text=text, ordinal=0, char_start=0, char_end=len(text))], filename=f"{n}.txt")


@pytest.mark.parametrize(
    ("question", "answered"),
    [
        ("What does PostgreSQL 15 add for conditional inserts?", True),
        ("What does PostgreSQL 18 add for conditional inserts?", False),  # a version the collection lacks
        ("How do I descale the espresso machine with Durgol?", False),  # a name the collection never mentions
        ("How is the espresso machine descaled?", True),
        ("How many grams of citric acid descale the espresso machine?", False),  # no number in the passage
        ("Who plans the seed swap in the pavilion?", True),  # the committee
        ("Who cleans the bicycle chain with a degreaser?", False),  # nobody is named
        ("When will the bicycle chain be cleaned with a degreaser?", False),  # no time in the passage
        ("How do I descale the espresso machine with durgol-forte tablets?", False),  # a compound never mentioned
        ("Can I re-run the descaling of the espresso machine?", True),  # a prefix, not a name: "re", "run"
        ("Can I e-mail a question about descaling the espresso machine?", True),  # a spelling of a word, not a name
        ("How do I keep the espresso machine descaled and up-to-date?", True),
        ("How is the espresso machine descaled with citric-acid?", True),  # both parts are known
    ],
)
def test_refusal_beyond_the_floor(store, question: str, answered: bool) -> None:
    _corpus(store)
    answer = store.ask(question)
    assert answer.found is answered, answer.answer
    if not answered:
        assert answer.answer == NOT_FOUND_TEXT and answer.sources == []


def test_the_answer_type_is_checked_on_all_the_answer_shows(store) -> None:
    """The time is in the second passage: the answer holds what a "when" question asks for."""
    store.settings = store.settings.replace(qa_min_score=0.0)
    texts = [
        "The pavilion roof was repaired by volunteers.",
        "The pavilion roof was repaired and finished in March 2019.",
    ]
    for n, text in enumerate(texts):
        store.add_document([ChunkInput(text=text, ordinal=0, char_start=0, char_end=len(text))], filename=f"{n}.txt")
    answer = store.ask("When was the pavilion roof repaired?")
    assert answer.found and answer.answer.startswith(texts[0]) and "March 2019" in answer.answer
    assert [s.filename for s in answer.sources] == ["0.txt", "1.txt"]


def test_a_version_stitched_from_heading_levels_is_not_a_mention(store) -> None:
    """The heading path joins its levels: "... release of Debian > 15.4. More architectures" holds the words
    "Debian 15" next to each other, but no text says "Debian 15"; the version check reads chunk text only."""
    from docqa.search.keyword import phrase_frequency

    text = "Debian 12 supports more architectures than any earlier release of Debian."
    heading = "Chapter 15. Changes expected in the next major release of Debian > 15.4. More architectures"
    store.add_document([ChunkInput(text=text, ordinal=0, char_start=0, char_end=len(text), heading=heading)])
    store.add_document([ChunkInput(text="Python 3.12 adds a faster interpreter.", ordinal=0)], document_id="py")
    with store.db.connection() as conn:
        assert phrase_frequency(conn, ["Debian", "15"]) == 0
        assert phrase_frequency(conn, ["Debian", "12"]) == 1
        assert phrase_frequency(conn, ["Python", "3.12"]) == 1  # a dotted version, on both databases
        assert phrase_frequency(conn, ["Python", "3.13"]) == 0
    store.settings = store.settings.replace(qa_min_score=0.0)
    assert not store.ask("What will Debian 15 support?").found
    assert store.ask("Which architectures does Debian 12 support?").found


def test_a_question_in_the_text_passes_its_evidence_to_the_answer_after_it() -> None:
    units = [
        Unit(0, 30, "How do I reset my password?", 0, 0, 0),
        Unit(31, 80, "Open Settings, choose Security, press Reset.", 0, 0, 0),
        Unit(81, 120, "Passwords expire after ninety days.", 1, 1, 0),
    ]
    found = [Candidate(0, i, u, "Account", 0) for i, u in enumerate(units)]
    question = np.array([1.0, 0.0], dtype=np.float32)
    vectors = np.array([[1.0, 0.0], [0.3, 0.95], [0.5, 0.87]], dtype=np.float32)  # the echo matches best
    scored = score_candidates({"reset": 1.0, "password": 1.0}, question, found, vectors, [units], [0.5])
    assert scored[0].candidate.unit.text.startswith("Open Settings")  # the answer, not the echo
    assert scored[0].score >= next(s.score for s in scored if s.candidate.index == 0)
