"""Routing signals: stemming, mentions, trigger phrases, BM25 relevance, context."""

from __future__ import annotations

import math

import pytest

from omniclaude.routing.signals import (
    Bm25Index,
    ConceptIndex,
    ContextIndex,
    ExampleIndex,
    TriggerIndex,
    analyze,
    explicit_mention,
    stem,
    tokenize,
)


@pytest.mark.parametrize(
    ("words", "same"),
    [
        (("analyze", "analyzes", "analyzing", "analyzer", "analysis", "analyse"), True),
        (("dependency", "dependencies"), True),
        (("verify", "verification", "verified"), True),
        (("document", "documented", "documentation"), True),
        (("test", "tests", "testing"), True),
        (("class", "classes"), True),
        (("test", "class"), False),
        (("install", "installed", "installation"), True),
        (("define", "defined", "definition"), True),
        (("depend", "depends", "dependency", "dependencies"), True),
        (("reference", "referenced", "references"), True),
        (("vulnerable", "vulnerability"), True),
        (("caller", "callers", "call"), True),
        (("cover", "coverage"), False),
    ],
)
def test_stem_makes_word_forms_meet(words: tuple[str, ...], same: bool) -> None:
    """Inflected forms of a word share a stem; different words do not."""
    assert (len({stem(w) for w in words}) == 1) is same


def test_analyze_drops_stop_words_and_single_letters() -> None:
    """Only content words remain, stemmed, in order."""
    assert analyze("Please analyze THIS codebase, it's a mess!").terms == (
        "analyz",
        "codebas",
        "mess",
    )
    assert tokenize("a-b_c") == ["a", "b", "c"]


def test_explicit_mentions() -> None:
    """``@name`` (aliases too), "use" + a hyphenated name or "... agent" count; a plain word
    after a verb ("run security checks") and unknown names do not."""
    names = {"test-finder", "polymorphic-agent", "code-analyzer"}

    def resolve(name: str) -> str | None:
        return name if name in names else {"analyzer": "code-analyzer"}.get(name)

    assert explicit_mention("hey @test-finder look", resolve) == "test-finder"
    assert explicit_mention("please use the polymorphic agent", resolve) == "polymorphic-agent"
    assert explicit_mention("use @polymorphic", resolve) == "polymorphic-agent"
    assert explicit_mention("run the analyzer agent on src", resolve) == "code-analyzer"
    assert explicit_mention("run code-analyzer on src", resolve) == "code-analyzer"
    assert explicit_mention("run analyzer on src", resolve) is None
    assert explicit_mention("use your judgement", resolve) is None
    assert explicit_mention("mail me at bob@example.com", resolve) is None


def test_trigger_scores_exact_unordered_fuzzy_and_partial() -> None:
    """Exact phrase 1.0 > all words near 0.9 > all words far 0.75 > typo > part of a phrase."""
    index = TriggerIndex.build([["list dependencies"], ["find tests"]])

    def score(prompt: str) -> float:
        return index.score(analyze(prompt))[0].score

    assert score("list dependencies now") == 1.0
    assert score("dependencies: list them") == pytest.approx(0.9)
    assert score("list, for this big old project of ours, the dependencies") == pytest.approx(0.75)
    assert 0.6 < score("list the dependncies") < 0.9
    assert score("the dependencies") == pytest.approx(0.15)
    assert score("hello") == 0.0
    assert index.score(analyze("list dependencies"))[0].matched == ("list dependencies",)


def test_bm25_relevance_prefers_the_agent_that_explains_the_prompt() -> None:
    """The agent whose document covers the prompt's distinctive words ranks and scores first."""
    docs = [
        analyze(t).terms
        for t in ("security scan secrets passwords", "count lines of code", "find tests")
    ]
    index = Bm25Index.build(docs)
    bm25, relevance, hits = index.score(analyze("any hardcoded passwords or secrets?"))
    assert max(range(3), key=bm25.__getitem__) == 0
    assert relevance[0] > 0.5 > relevance[1]
    assert hits[0] == {"password", "secret"}
    assert index.score(analyze("unrelated words entirely"))[1] == [0.0, 0.0, 0.0]


def test_context_index_shares_files_by_specificity() -> None:
    """A test file counts more for the agent with ``test_*.py`` than for one with ``*.py``;
    a matching domain scores 1; an empty context says nothing."""
    index = ContextIndex([("testing", ["test_*.py", "tests/*"]), ("code", ["*.py"]), ("docs", [])])
    scores = index.score({"files": ["tests/test_api.py"]})
    assert scores is not None
    assert scores[0] > scores[1] > 0
    assert scores[2] == 0
    assert index.score({"domain": "docs"}) == [0.0, 0.0, 1.0]
    assert index.score({}) is None
    assert index.score({"other": 1}) is None


def test_analyze_types_files_identifiers_concepts_and_question_forms() -> None:
    """Named files become ``~file`` and their kind, identifiers ``~ident``, synonyms concepts."""
    query = analyze("What does setup.cfg say?")
    assert query.files == ("setup.cfg",)
    assert {"~file", "~manifest", "~read"} <= set(query.features)
    assert "setup" not in query.features
    assert "setup" in query.terms
    assert "~deps" in analyze("which libs do we pull from pypi").concepts
    assert "~locate" in analyze("where's the Settings class").concepts
    assert "~ident" in analyze("who calls resolve_entrypoint").concepts
    assert "~ident" in analyze("grep for asyncio.sleep").concepts
    assert "~ident" not in analyze("sleep well").concepts
    prompt, definition = (
        analyze("usages of write_events"),
        analyze("usages of write_events", definition=True),
    )
    assert "writ" in prompt.features
    assert "writ" not in definition.features
    assert "~ident" in definition.features
    assert analyze("verify=False with requests.get").files == ()


def test_stem_collisions_are_kept_out_of_the_concept_map() -> None:
    """ "hacker" is not a TODO marker and "calls" is not a search request by itself."""
    assert "~todo" not in analyze("could a hacker get in").concepts
    assert "~locate" not in analyze("subprocess calls with shell enabled").concepts


def test_concept_index_scores_shared_concepts_and_spots_multi_part_requests() -> None:
    """One concept only one agent has scores ~0.76; a list of domains lowers each share."""
    index = ConceptIndex.build([["~security"], ["~docs", "~tests"], ["~deps"]])
    scores = index.score(analyze("is anything here dangerous"))
    assert scores[0][0] == pytest.approx(1 - math.exp(-1 / 0.7))
    assert scores[0][1] == ("~security",)
    assert scores[1][0] == scores[2][0] == 0.0
    multi = analyze("check security, docs and dependencies")
    share, missing = index.spread(multi, 0)
    assert share == pytest.approx(1 / 3)
    assert set(missing) == {"~docs", "~deps"}
    assert index.spread(analyze("how to install this from the docs"), 1) == (1.0, ())
    assert index.spread(analyze("any dangerous code"), 0) == (1.0, ())


def test_example_index_finds_the_closest_example_per_agent() -> None:
    """A paraphrase scores highest for the agent whose example it resembles."""
    index = ExampleIndex(
        [["which libraries do we depend on"], ["are there hardcoded passwords"], []]
    )
    matches = index.score(analyze("what libraries does this depend on"))
    assert matches[0].score > 0.5 > matches[1].score
    assert matches[0].example == "which libraries do we depend on"
    assert matches[2].score == 0.0
    assert index.score(analyze("completely unrelated haiku"))[0].score == 0.0


def test_unknown_words_lower_relevance() -> None:
    """A prompt that shares one word with an agent but is mostly unknown words scores low."""
    index = Bm25Index.build([analyze("find usages of symbols").features, ["other"]])
    _, alone, _ = index.score(analyze("usages"))
    _, diluted, _ = index.score(analyze("usages haiku autumn leaves"))
    assert diluted[0] < alone[0]


def test_a_trigger_shrunk_to_one_word_counts_fully_only_as_written() -> None:
    """ "who calls" matches verbatim at 1.0; "calls" alone (stop word dropped) much less."""
    index = TriggerIndex.build([["who calls"]])
    assert index.score(analyze("who calls flush"))[0].score == 1.0
    assert index.score(analyze("subprocess calls"))[0].score == pytest.approx(0.6)


def test_the_longest_phrase_wins_where_phrases_overlap() -> None:
    """ "docstring coverage" is about docs; "coverage" alone about tests."""
    assert "~tests" not in analyze("what's the docstring coverage").concepts
    assert "~docs" in analyze("what's the docstring coverage").concepts
    assert "~tests" in analyze("what's our coverage").concepts


def test_a_quoted_literal_is_the_object_not_the_ask() -> None:
    """A quoted string becomes ``~literal``: its words neither trigger nor evoke concepts."""
    query = analyze("look for 'schema_version' in the codebase")
    assert "~literal" in query.concepts
    assert "~deps" not in query.concepts
    assert "version" not in query.words
    assert "~literal" not in analyze("what's in the box, it's here").concepts
    assert "~search" in analyze(r"grep for TODO\(\w+\)").concepts


def test_one_file_scope_and_list_items() -> None:
    """One named file or "this file" is the one-file scope; two named files, or "files" in
    general, are not; each list item with a concept of its own counts as an ask."""
    assert "~onefile" in analyze("how many lines does router.py have").concepts
    assert "~onefile" in analyze("summarise this file").concepts
    assert "~onefile" not in analyze("count up the files per language").concepts
    assert "~onefile" not in analyze("compare setup.cfg and pyproject.toml").concepts
    assert analyze("check for secrets and also list the missing docstrings").asks == 2
    assert analyze("does the readme say how to install and use it").asks == 1


@pytest.mark.parametrize(
    ("prompt", "task"),
    [
        ("write unit tests for the cache module", True),
        ("please refactor the router", True),
        ("can you set up CI for this repo", True),
        ("what is a closure in javascript", True),
        ("which functions write to the database", False),
        ("find the tests for the writer", False),
        ("what is the structure of this project", False),
        ("generate a list of the untested modules", False),
    ],
)
def test_task_forms_spot_requests_to_make_or_change_things(prompt: str, task: bool) -> None:
    """A request opening with a verb of making or changing, or asking general knowledge,
    evokes ``~task``; a question about code that writes, or a request to make a report or a
    list, does not."""
    assert ("~task" in analyze(prompt).concepts) is task


def test_concept_affinity_follows_how_much_of_a_definition_evokes_it() -> None:
    """An agent whose every part is about a concept has it fully; one part of many, barely."""
    parts_search = [["~search"], ["~search", "~locate"], ["~search"]]
    parts_tests = [["~tests"], ["~tests"], ["~tests"], ["~tests"], ["~search"]]
    index = ConceptIndex.from_parts([parts_search, parts_tests])
    assert index.affinity[0]["~search"] == 1.0
    assert index.affinity[1]["~search"] == pytest.approx(0.5)
    scores = index.score(analyze("grep for the word outbox"))
    assert scores[0][0] > scores[1][0] > 0
