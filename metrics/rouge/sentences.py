"""Download-free sentence splitting used to prepare text for ROUGE-Lsum.

``rouge_score`` computes ``rougeLsum`` as a summary-level LCS over sentences separated by ``"\\n"``.
Summaries produced by a language model are usually one paragraph, so they must be put into
one-sentence-per-line form first.  ``nltk.sent_tokenize`` would need the ``punkt`` data (a download),
so this module uses a small rule-based splitter instead.

It lives beside ``rouge.py`` because ``evaluate`` copies a metric script and the files it imports
relatively (``from .sentences import ...``) into its module cache.
"""

from __future__ import annotations

import re

__all__ = ["ABBREVIATIONS", "NUMBER_ABBREVIATIONS", "split_sentences"]

# Lower-cased tokens (without their final period) after which a period does not end a sentence.
ABBREVIATIONS = frozenset(
    # titles and honorifics
    "mr mrs ms dr prof sr jr st rev hon gen sen rep gov pres lt col capt cpt sgt cpl maj adm cmdr supt insp "
    "det fr mt ft "
    # months ("Mar." is a number abbreviation below; "May" never takes a period)
    "jan feb apr jun jul aug sep sept oct nov dec "
    # companies, places, misc.
    "inc ltd co corp bros plc llc dept univ assn ave blvd rd vs etc al approx cf e.g i.e a.m p.m".split()
)
# Tokens that are abbreviations only when a number follows ("No. 10", "Mar. 5"), and ordinary
# words otherwise ("The answer was no. Then ...").
NUMBER_ABBREVIATIONS = frozenset("no nos mar fig figs vol pp op".split())

# A candidate boundary: terminal punctuation, optional closing quotes/brackets, then whitespace.
_BOUNDARY = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*\s+")
# Opening quotes/brackets that may precede the first letter of the next sentence.
_OPENERS = "\"'\u201c\u2018([\u00ab"
# Dotted acronyms such as "U.S" or "U.K" (the final period is stripped before matching).
_ACRONYM = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")


def _starts_sentence(rest: str) -> bool:
    """Whether ``rest`` (text after a candidate boundary) looks like the start of a sentence."""
    stripped = rest.lstrip(_OPENERS)
    if not stripped:
        return False
    first = stripped[0]
    return first.isupper() or first.isdigit() or len(stripped) < len(rest)


def _is_abbreviation(text_before_period: str, rest: str) -> bool:
    """Whether the word ending right before a period (``rest`` follows it) is an abbreviation/initial."""
    words = text_before_period.split()
    if not words:
        return False
    word = words[-1].lstrip(_OPENERS)
    if not word:
        return False
    if word.lower() in ABBREVIATIONS:
        return True
    if word.lower() in NUMBER_ABBREVIATIONS:
        return rest[:1].isdigit()
    if len(word) == 1 and word.isalpha():  # an initial, e.g. "J. K. Rowling"
        return True
    return _ACRONYM.fullmatch(word) is not None  # "U.S", "U.K", "D.C"


def split_sentences(text: str | None) -> list[str]:
    """Split ``text`` into stripped, non-empty sentences without any downloaded model.

    * If ``text`` contains newlines (e.g. CNN/DailyMail highlights), it is split on newlines only.
    * Otherwise it is split after ``.``, ``!`` or ``?`` (plus any closing quotes/brackets) followed by
      whitespace and a sentence start (an uppercase letter, a digit or an opening quote).  A period does
      not end a sentence after a common abbreviation ("Mr.", "Dr.", "St.", "Jan.", "Inc.", ...), before a
      number after "No."/"Mar."/"Vol." etc., after a single initial ("J.") or a dotted acronym ("U.S.");
      decimals such as "3.5" never split because no whitespace follows the period.

    >>> split_sentences("Mr. Smith paid $3.5 million. He left.")
    ['Mr. Smith paid $3.5 million.', 'He left.']
    """
    if not text:
        return []
    if "\n" in text or "\r" in text:
        return [line.strip() for line in text.splitlines() if line.strip()]

    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if not _starts_sentence(text[match.end() :]):
            continue
        punctuation = match.group().rstrip().rstrip("\"'\u201d\u2019)]")
        if punctuation == "." and _is_abbreviation(text[start : match.start()], text[match.end() :]):
            continue
        sentence = text[start : match.end()].strip()
        if sentence:
            sentences.append(sentence)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences
