from rag.language.analysis import (
    CACHED_CHARS,
    INDEX_STOPWORDS,
    fold,
    index_terms,
    index_words,
    query_terms,
    question_terms,
    words,
)


def test_index_stop_words_are_the_ones_bm25_baselines_use():
    from bm25s.stopwords import STOPWORDS_EN

    assert frozenset(STOPWORDS_EN) == INDEX_STOPWORDS


def test_words_fold_case_and_accents_and_drop_possessives():
    assert fold("Milošević") == "milosevic"
    assert words("Russia’s President didn't say") == ["russia", "president", "didn", "say"]


def test_index_terms_stem_and_map_irregular_verbs():
    assert index_terms("The prisoners were exchanged") == ["prison", "exchang"]  # were -> be, a stop word
    assert index_terms("It froze; they took the town") == ["freez", "take", "town"]


def test_question_terms_keep_only_meaningful_distinct_words():
    assert question_terms("How many prisoners were exchanged on February 5, and how many prisoners?") == [
        "prison",
        "exchang",
        "februari",
        "5",
    ]


def test_query_terms_leave_out_the_words_that_only_make_a_question():
    assert query_terms("What did Putin tell the generals?") == ["putin", "tell", "general"]
    assert query_terms("Who was The Who?") == ["who", "who"]  # nothing else to search for


def test_index_terms_of_a_passage_longer_than_the_cached_ones():
    text = "Cells divided; " * (CACHED_CHARS // 10)
    assert len(text) > CACHED_CHARS
    assert index_terms(text) == ["cell", "divid"] * (CACHED_CHARS // 10)
    assert index_words(text)[0][:2] == ("cells", "divided")
