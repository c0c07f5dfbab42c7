from rag.ingest.sentences import split_sentences


def sentences(text):
    return [text[s.start : s.end] for s in split_sentences(text)]


def test_splits_on_terminal_punctuation_and_keeps_closing_quotes():
    text = "He said: “We will never surrender.” Then he left! Did he? Yes."
    assert sentences(text) == ["He said: “We will never surrender.”", "Then he left!", "Did he?", "Yes."]


def test_abbreviations_initials_and_decimals_do_not_end_sentences():
    text = "Mr. Costa met Dr. J. Smith in the U.S. on Feb. 3. Growth was 3.5 percent."
    assert sentences(text) == ["Mr. Costa met Dr. J. Smith in the U.S. on Feb. 3.", "Growth was 3.5 percent."]


def test_blank_lines_headings_and_list_items_end_sentences():
    text = (
        "Impact on Chechen Autonomy\n\nThe shifts matter\n  • Ambition for Power: more.\n  • Economic Interests: money."
    )
    assert sentences(text) == [
        "Impact on Chechen Autonomy",
        "The shifts matter",
        "• Ambition for Power: more.",
        "• Economic Interests: money.",
    ]


def test_hard_wrapped_prose_stays_one_sentence():
    text = (
        "This sentence is long enough that a text editor wrapped it at about seventy\n"
        "characters, and it only ends down here on the second line of the paragraph.\n"
    )
    assert len(sentences(text)) == 1


def test_narrow_wrapped_prose_is_not_taken_for_headings():
    assert sentences("The lighthouse keeper\nwas named Bartholomew Quince.") == [
        "The lighthouse keeper\nwas named Bartholomew Quince."
    ]
    wrapped = "The ferry to the\nIsle of Wight leaves at 7:15\nfrom the south pier. It is slow."
    assert sentences(wrapped) == ["The ferry to the\nIsle of Wight leaves at 7:15\nfrom the south pier.", "It is slow."]
    assert sentences("Background\nThe war began in 2022.") == ["Background", "The war began in 2022."]


def test_markers_written_against_the_stop_stay_with_their_sentence():
    from rag.answer.citations import split_cited_sentences

    text = "It was built in 1894.[1] It carried 4000 carts.[2]"
    assert sentences(text) == ["It was built in 1894.[1]", "It carried 4000 carts.[2]"]
    assert [(c.text, c.markers) for c in split_cited_sentences(text)] == [
        ("It was built in 1894.", (1,)),
        ("It carried 4000 carts.", (2,)),
    ]


def test_spans_are_trimmed_and_verbatim():
    text = "  First one.   Second one.  "
    spans = split_sentences(text)
    assert [(s.start, s.end) for s in spans] == [(2, 12), (15, 26)]


def test_a_sub_range_is_split_with_absolute_offsets():
    text = "Skip this. Keep this one. And this."
    spans = split_sentences(text, start=11)
    assert [text[s.start : s.end] for s in spans] == ["Keep this one.", "And this."]
