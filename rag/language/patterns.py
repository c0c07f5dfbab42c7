"""English as data: the word lists and regular expressions that question analysis, evidence
and answer assembly read, kept in one place so that each piece of English knowledge has one
home and every stage that needs it imports it from here.

Word lists are tuples of regular-expression alternatives, joined into the patterns below; a
few alternatives carry a regular-expression suffix of their own ("hundreds?",
"organi[sz]ation"), so a list is not a list of plain words. Trade-off: the patterns are
English only, hand-tuned on news articles and on ClapNQ's Wikipedia questions; each has the
example that motivated it beside it and in tests/language/test_questions.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


def word_list(text: str) -> tuple[str, ...]:
    """The words of ``text``, in order: a list written as one line of prose is easier to read."""
    return tuple(text.split())


def alternation(alternatives: Iterable[str]) -> str:
    """The alternatives as one regular-expression alternation, in the order given (the first
    that leads to a match wins, so the order is kept)."""
    return "|".join(alternatives)


# ----------------------------------------------------------------------------------------
# Numbers and dates

NUMBER_WORDS = (
    *word_list("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"),
    *word_list("seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundreds?"),
    *word_list("thousands? millions? billions? dozens? half quarter several"),
)
MONTHS = (
    *word_list("january february march april may june july august september october november december"),
    *word_list("jan feb mar apr jun jul aug sep sept oct nov dec"),
)
DAYS = word_list("monday tuesday wednesday thursday friday saturday sunday yesterday today tomorrow")
SEASONS = word_list("spring summer autumn fall winter century decade")

# A year, as a date ("in 1999") and as a number that is not a count ("captured in 2024" does
# not answer "how many"). One pattern for both: the seeds' and ClapNQ's answers are the same
# with it as with the narrower 1500-2099 the count rule once used, while narrowing the date
# rule to 1500 changed a ClapNQ answer about the 1192 shogunate.
YEAR = r"(?:1[0-9]|20)\d\d"
YEAR_RE = re.compile(rf"^{YEAR}$")

NUMBER_RE = re.compile(rf"\b\d[\d,.]*%?|\b(?:{alternation(NUMBER_WORDS)})\b", re.IGNORECASE)
DATE_RE = re.compile(
    rf"\b(?:{YEAR}|\d{{2,4}}s|{alternation(MONTHS)}|{alternation(DAYS)}|{alternation(SEASONS)})\b"
    r"|\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b",
    re.IGNORECASE,
)
# "on February 5 prisoners were ...": a number right after a month is a day, not a count.
DAY_OF_MONTH_RE = re.compile(rf"\b(?:{alternation(MONTHS)})\.?\s+$", re.I)

# ----------------------------------------------------------------------------------------
# Names and places

NAME_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w’'-]+(?:\s+(?:bin\s+|al\s+|de\s+|von\s+)?[A-Z][\w’'-]+)*")
ACRONYM_RE = re.compile(r"\b[A-Z]{2,}[A-Za-z]*\b")
LIST_SEPARATOR = r",\s*|\s+and\s+|\s+or\s+"
# "to" leads to a place ("flew to Kyiv") when an answer is wanted, but to a person as often
# ("spoke to Kadyrov") when telling people from places, so PLACE_NAME_RE leaves it out.
PLACE_PREPOSITIONS = ("in", "at", "from", "to", "near", "into", "across", "outside", "inside")
PLACE_RE = re.compile(
    rf"\b(?:{alternation(PLACE_PREPOSITIONS)})\s+(?:the\s+)?"
    rf"([A-Z][\w’'-]+(?:(?:{LIST_SEPARATOR})[A-Z][\w’'-]+)*)"
)
# WordNet's lexicographer files that hold places ("Ukraine" is a noun.location).
LOCATIONS = frozenset(["location", "region"])

# Nouns whose "which ..." or "what ..." question asks for a proper name.
NAMED_THINGS = (
    *word_list("agency newspaper paper magazine journal broadcaster channel network station outlet publication"),
    *word_list("company firm corporation organi[sz]ation group party team club band label brand unit regiment"),
    *word_list("university college school ship warship vessel holiday festival operation programme program"),
    *word_list("law treaty album song film movie book novel show series award prize"),
)
PERSON_NOUNS = (
    *word_list("person people man woman official officials leader minister analyst expert president commander general"),
    *word_list("king queen actor actress singer player author writer director diplomat envoy ambassador negotiator"),
    *word_list("politician journalist reporter spokesman spokeswoman founder inventor scientist chief head"),
)
# Offices a capitalised word names as a title ("as President", "the Prime Minister"), not as a
# name: professions ("Reporter", "Diplomat", "People") name magazines as often.
TITLE_NOUNS = word_list(
    "president minister premier chancellor governor senator secretary general commander ambassador envoy "
    "spokesman spokeswoman chief head leader king queen prince princess emperor pope director chairman"
)
PLACE_NOUNS = word_list(
    "country countries city cities region place town village republic state province continent island river capital"
)
TIME_NOUNS = word_list("year day date month time century decade")

POSSESSIVE_RE = re.compile(r"[’']s\b\s*")
# A name right after a preposition of place ("in Kursk") or before a place noun ("Kursk region").
PLACE_NAME_RE = re.compile(
    rf"(?:\b(?:{alternation(p for p in PLACE_PREPOSITIONS if p != 'to')})\s+(?:the\s+)?([A-Z][\w-]+)\b(?![’'])"
    rf"|\b([A-Z][\w-]+)(?=\s+(?:{alternation(PLACE_NOUNS)})\b))"
)

# Words, punctuation and numbers, in the order written: what runs of capitalised words are
# read from.
TOKEN_RE = re.compile(r"[^\W\d_][\w’'-]*|[^\w\s]|\d+")
SENTENCE_END = frozenset(".!?")
# Lower-case words inside a name: "Osama bin Laden", "Ursula von der Leyen".
NAME_PARTICLES = frozenset(["bin", "al", "de", "von", "van", "da", "di", "del", "der", "la", "le"])
# Words that open sentences ("Although ...", "Hmm, ...") and that neither the stop words nor
# WordNet cover.
OPENERS = frozenset(
    """although since unless whereas whether amid among toward towards upon without via per whoever
    whenever whatever wherever everyone everybody nobody anyone anybody everything someone somebody
    beside onto hmm um uh ah aha oh yep nope ok okay gotcha lol pls thanks thx hey hi hello kk""".split()  # noqa: SIM905
)

# ----------------------------------------------------------------------------------------
# What a question asks for

MODIFIERS = r"(?:[\w-]+\s+){0,3}"  # "which top American diplomat", "which specific Middle Eastern country"

# The wh-word that opens the question decides what it asks for; a "who" later on is usually a
# relative pronoun ("How did the insiders who spoke ... describe it?").
OPENING_RE = re.compile(r"\b(how|when|where|who|whom|whose|which|what)\b", re.I)

# The kind of thing asked for, by the first pattern that matches from the wh-word on; None
# asks for no kind of thing.
TYPE_PATTERNS: list[tuple[str | None, re.Pattern[str]]] = [
    (
        "number",
        re.compile(
            r"^how\s+(?:many|much|long|old|often|far|big|large|tall|high)\b|\bnumber of\b"
            r"|^what (?:percentage|proportion|share|amount)\b",
            re.I,
        ),
    ),
    (
        "date",
        re.compile(rf"^when\b|^since when\b|^(?:what|which)\s+{MODIFIERS}(?:{alternation(TIME_NOUNS)})s?\b", re.I),
    ),
    (
        "person",
        re.compile(rf"^who(?:m|se)?\b|^(?:which|what)\s+{MODIFIERS}(?:{alternation(PERSON_NOUNS)})s?\b", re.I),
    ),
    # "Where does the term come from?" asks for an origin, which a place or a story may answer.
    (
        None,
        re.compile(
            r"^where\b[^?]*\b(?:come|comes|came|get|gets|got|derive[sd]?)\s+(?:\w+\s+){0,2}from\b|^where\b[^?]*\boriginat",
            re.I,
        ),
    ),
    ("place", re.compile(rf"^where\b|^(?:which|what)\s+{MODIFIERS}(?:{alternation(PLACE_NOUNS)})\b", re.I)),
    ("name", re.compile(rf"^(?:which|what)\s+{MODIFIERS}(?:{alternation(NAMED_THINGS)})s?\b", re.I)),
]

# A "how many" question counts what follows it: "How many prisoners were swapped?".
COUNTED_RE = re.compile(r"\bhow\s+many\s+([^?]*)", re.I)
# A question that asks for years ("how long", "how many years") is answered by a number of
# years, which a year is not: the count rule lets such numbers through.
ASKS_FOR_YEARS_RE = re.compile(r"\b(?:how\s+long|years?)\b", re.I)
# "How old is he?": a year gives an age only as a year of birth ("born in 1976").
ASKS_FOR_AGE_RE = re.compile(r"\bhow\s+old\b", re.I)
BIRTH_RE = re.compile(r"\b(?:born|birth)\b", re.I)

# "How old is he?" asks for a number, and a sentence says it without the word; the word's
# relatives would find only its other senses ("old" / "worn" / "wear": what he was wearing).
MEASURES = ("old", "tall", "long", "big", "large", "far", "high", "deep", "wide", "heavy")
MEASURED_RE = re.compile(rf"\bhow\s+({alternation(MEASURES)})\b")

# ----------------------------------------------------------------------------------------
# How a sentence leans on its neighbours

# "He was especially outraged by the sinking ..." does not say who was, nor "These include
# Sergei Shoigu, ..." what: the sentence before it in the passage usually does ("The head of
# the Kremlin ... lost interest in it.", "... a narrowing circle of hard line advisers").
# Not "this", which points at an event the sentence itself goes on to name.
LEANING_PRONOUNS = ("he", "she", "they", "his", "her", "their", "him", "them", "these", "those", "it", "its")
PRONOUN_OPENING_RE = re.compile(rf"^[\W_]*(?:{alternation(LEANING_PRONOUNS)})\b", re.IGNORECASE)

# "... I saw that Putin is already out of it." is followed by "Not in a medical sense but in
# political terms": a sentence that opens by qualifying the one before it changes what that one
# says, and a quote without it misleads.
QUALIFIERS = ("not", "but", "however", "yet", "still", "nevertheless", "nonetheless")
QUALIFYING_OPENING_RE = re.compile(rf"^[\W_]*(?:{alternation(QUALIFIERS)})\b", re.IGNORECASE)

# ----------------------------------------------------------------------------------------
# Who says what

# Verbs that put a statement in someone's mouth: "Kadyrov said ...", "... , the ruler wrote",
# "he reported that ...". A claim that names who said something is supported only by a
# sentence in which that person is the one saying it (``rag.answer.support``).
SPEECH_VERBS = (
    *word_list("say says said tell tells told write writes wrote written report reports reported state states stated"),
    *word_list("claim claims claimed add adds added argue argues argued note notes noted warn warns warned announce"),
    *word_list("announces announced insist insists insisted explain explains explained call calls called describe"),
    *word_list("describes described urge urges urged suggest suggests suggested post posts posted believe believes"),
    *word_list("believed predict predicts predicted"),
)
# A speaker: a run of capitalised words, or a pronoun, or a description ("the Chechen ruler").
SPEAKER_NAME = r"[A-Z][\w’'-]+(?:\s+(?:bin\s+|al\s+|de\s+|von\s+)?[A-Z][\w’'-]+)*"
SPEAKER_PRONOUNS = ("he", "she", "they", "He", "She", "They")
# "Kadyrov said", "Kadyrov has said", "he reported", "the Chechen ruler wrote"
SPEAKER_BEFORE_RE = re.compile(
    rf"(?:\b(?P<pronoun>{alternation(SPEAKER_PRONOUNS)})|\b(?P<name>{SPEAKER_NAME})"
    rf"|\b(?P<description>the\s+(?:[\w’'-]+\s+){{0,3}}?[a-z][\w-]*))"
    rf"\s+(?:has\s+|had\s+|also\s+|later\s+|then\s+)?(?:{alternation(SPEECH_VERBS)})\b"
)
# "“...,” said Kadyrov" (after a quotation or a comma: "told Reuters" names the listener), and
# "according to the Russian investigative outlet Agentstvo": the phrase up to the next comma,
# whose names are the speaker's.
# Only the verbs that invert after a quotation ("…,” said Kadyrov; not "…, called Kadyrov's
# support a gamble"), and never before "that": ", reported that the Chechens …" reports what
# the Chechens did, it does not name them as speakers.
INVERTED_SPEECH_VERBS = tuple(
    verb for verb in SPEECH_VERBS if not verb.startswith(("call", "describ", "believ", "suggest", "predict", "urg"))
)
SPEAKER_AFTER_RE = re.compile(
    rf"(?:[,”\"]\s*(?:{alternation(INVERTED_SPEECH_VERBS)})|\b[Aa]ccording\s+to)\s+(?!that\b)"
    rf"(?P<phrase>[^,.;:!?“”\"]{{1,80}})"
)
# A written answer's frame, which speaks of the documents rather than of what they say: "The
# article mentions that ...", "The sources suggest ...", "According to the document, ...",
# "The answer to this question is: ...". What follows it is the claim.
DOCUMENT_NOUNS = word_list("article articles source sources document documents text passage passages report answer")
FRAME_VERBS = word_list("mentions mention states state says say notes note suggests suggest shows show reports report")
FRAME_RE = re.compile(
    rf"^\s*(?:(?:according\s+to\s+(?:the|this|these)\s+(?:{alternation(DOCUMENT_NOUNS)})\s*,?)"
    rf"|(?:(?:the|this|these)\s+(?:{alternation(DOCUMENT_NOUNS)})(?:\s+to\s+(?:this|the|your)\s+question)?"
    rf"\s+(?:also\s+)?(?:{alternation(FRAME_VERBS)}|is|are)(?:\s+that)?\s*[:,]?))\s+",
    re.IGNORECASE,
)
