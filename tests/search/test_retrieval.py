import pytest

from rag import Chatbot, Document, RagError
from rag.search.retrieval import RetrievalSettings, Retriever, min_max_normalise, reciprocal_rank_scores

DOCS = [
    Document(id="swap.txt", text="The February 5 exchange included 314 prisoners, 157 from each side."),
    Document(id="law.txt", text="Those found guilty of discrediting the army face a prison sentence of 15 years."),
    Document(id="talks.txt", text="Peace talks between Moscow and Kyiv took place in Istanbul, Turkey."),
    Document(id="fruit.txt", text="Apples and pears ripen in the autumn orchards that Zelensky visited."),
]


@pytest.fixture(scope="module")
def bot(tmp_path_factory):
    return Chatbot.from_documents(DOCS, tmp_path_factory.mktemp("idx"))


def test_the_relevant_passage_comes_first(bot):
    assert bot.retrieve("how many prisoners were exchanged", k=2)[0].source == "swap.txt"
    assert bot.retrieve("where were the peace talks held", k=2)[0].source == "talks.txt"


def test_hits_carry_ranks_from_both_retrievers_and_are_sorted(bot):
    hits = bot.retrieve("prison sentence for discrediting the army", k=4)
    assert hits[0].source == "law.txt"
    assert hits[0].lexical_rank == 1 and hits[0].dense_rank == 1
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].start_line == hits[0].end_line == 1


def test_k_bounds_the_result(bot):
    assert len(bot.retrieve("prisoners", k=1)) == 1
    assert len(bot.retrieve("prisoners", k=50)) == len(DOCS)


@pytest.mark.parametrize("k", [2**63, 2**70, 10**100], ids=["2**63", "2**70", "10**100"])
def test_a_count_past_what_sqlite_and_faiss_take_returns_every_passage(bot, k):
    # The public entries refuse such counts (rag.validation.MAX_PASSAGES); the retriever itself
    # must not crash on one either: a count past 2**63 overflowed SQLite's LIMIT.
    hits = bot.retriever.search("how many prisoners were exchanged", k=k)
    assert [hit.source for hit in hits][:1] == ["swap.txt"] and len(hits) == len(DOCS)
    with pytest.raises(RagError, match="at most 10,000"):
        bot.ask("How many prisoners were exchanged?", top_k=k)


def test_character_ngrams_find_spelling_variants_that_stemming_misses(bot):
    # "Zelenskyy" shares no stem with "Zelensky"; only the dense side can match it.
    hits = bot.retrieve("Zelenskyy", k=1)
    assert hits and hits[0].source == "fruit.txt" and hits[0].lexical_rank is None


def test_min_max_scaling_and_rrf_are_exact():
    assert min_max_normalise([(1, 4.0), (2, 2.0), (3, 3.0)]) == {1: 1.0, 2: 0.0, 3: 0.5}
    assert min_max_normalise([(7, 0.3)]) == {7: 1.0}
    assert reciprocal_rank_scores([(5, 9.0), (6, 1.0)], k=60, weight=1.0) == {5: 1 / 61, 6: 1 / 62}


def test_convex_fusion_weights_each_side(bot):
    retriever = Retriever(bot.index, bot.embedder, RetrievalSettings(dense_weight=0.25))
    fused = dict(retriever.fuse([(1, 0.9), (2, 0.5)], [(2, 10.0), (3, 4.0)]))
    assert fused == pytest.approx({1: 0.25, 2: 0.75, 3: 0.0})


def test_rrf_fusion_is_available(bot):
    retriever = Retriever(bot.index, bot.embedder, RetrievalSettings(fusion="rrf"))
    assert retriever.search("prisoners exchanged", k=1)[0].source == "swap.txt"


def test_question_words_do_not_outweigh_the_subject(tmp_path):
    # "what" is in one document, "Putin" in all four: searched as a term, the rare question word
    # would bring the rhetoric first.
    docs = [
        Document(id="rhetoric.txt", text="What Putin says and what Putin does: what matters is what he does."),
        Document(id="height.txt", text="Putin's height is rarely reported by the Kremlin."),
        Document(id="army.txt", text="Putin gave a speech to the army."),
        Document(id="visit.txt", text="Putin visited the troops in Crimea."),
    ]
    bot = Chatbot.from_documents(docs, tmp_path / "idx")
    assert bot.retrieve("What is Putin's height?", k=1)[0].source == "height.txt"
    # A query made only of question words still searches for them.
    assert bot.retrieve("what", k=1)[0].source == "rhetoric.txt"
