"""Text normalisation for speech synthesis: what an engine or Tacotron 2 is asked to say is what the
transcript says.

Engines expand numbers and symbols on their own, each differently, so a transcript
with "7:30" would not match the audio. ``normalize_text`` turns any string into
lower-case ASCII words (letters and word-internal apostrophes), spelling out numbers,
and counts every kind of change so a job can report what it did. It never raises.
``tts_vocabulary`` is the vocabulary Tacotron 2 reads: exactly the characters
``normalize_text`` leaves.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
         "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = [(10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand")]
_ORDINAL_IRREGULAR = {"one": "first", "two": "second", "three": "third", "five": "fifth",
                      "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}

# Letters NFKD cannot decompose into ASCII.
_TRANSLIT = {"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE",
             "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th",
             "ı": "i", "ŋ": "ng"}
# Typographic punctuation with an ASCII twin (so "don’t" keeps its apostrophe).
_PUNCT_ASCII = {"\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u2032": "'", "\u201c": '"',
                "\u201d": '"', "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2026": "...",
                "\u00a0": " "}
_CURRENCY = {"$": ("dollar", "dollars"), "€": ("euro", "euros"), "£": ("pound", "pounds")}
_SYMBOLS = {"%": "percent", "&": "and", "+": "plus", "@": "at", "=": "equals", "#": "number"}

_NUMBER = re.compile(
    r"(?P<cur>[$€£])?\s?(?P<neg>(?<![\w.])-)?(?P<int>\d{1,3}(?:,\d{3})+|\d+)"
    r"(?:(?P<time>:\d\d(?!\d))|(?P<frac>\.\d+)|(?P<ord>st|nd|rd|th)\b)?"
)


def number_to_words(n: int) -> str:
    """Cardinal English words for an integer: 2023 -> "two thousand twenty three".

    Beyond the trillions the digits are read one by one (no crash on huge numbers).
    """
    if n < 0:
        return "minus " + number_to_words(-n)
    if n >= 10**15:
        return " ".join(_ONES[int(d)] for d in str(n))
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + number_to_words(rest))
    for scale, name in _SCALES:
        if n >= scale:
            rest = n % scale
            return number_to_words(n // scale) + " " + name + ("" if rest == 0 else " " + number_to_words(rest))
    raise AssertionError("unreachable")


def ordinal_words(n: int) -> str:
    """Ordinal English words: 21 -> "twenty first"."""
    words = number_to_words(n).split()
    last = words[-1]
    if last in _ORDINAL_IRREGULAR:
        last = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return " ".join(words[:-1] + [last])


def _digits_words(digits: str) -> str:
    return " ".join(_ONES[int(d)] for d in digits)


@dataclass
class NormalizedText:
    """The normalised text and how many of each kind of change made it.

    ``changes`` keys: numbers, symbols, punctuation, transliterated, dropped.
    """

    text: str
    changes: Counter = field(default_factory=Counter)

    @property
    def changed(self) -> bool:
        return sum(self.changes.values()) > 0


def _to_ascii(text: str, changes: Counter) -> str:
    out = []
    for ch in unicodedata.normalize("NFKC", text):
        if ch.isascii():
            out.append(ch)
        elif ch in _PUNCT_ASCII:
            out.append(_PUNCT_ASCII[ch])
        elif ch in _CURRENCY:
            out.append(ch)  # kept for the number pass, which reads "€5" as "five euros"
        elif ch in _TRANSLIT:
            out.append(_TRANSLIT[ch])
            changes["transliterated"] += 1
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
            if base and base.isascii() and base.isalnum():
                out.append(base)
                changes["transliterated"] += 1
            else:
                # A space, not nothing: "東京tower" must not glue what is left together.
                out.append(" ")
                if not ch.isspace():
                    changes["dropped"] += 1
    return "".join(out)


def _spell_number(m: re.Match, changes: Counter) -> str:
    changes["numbers"] += 1
    digits = m.group("int").replace(",", "")
    if m.group("time"):
        hour, minute = int(digits), int(m.group("time")[1:])
        words = number_to_words(hour)
        if minute == 0:
            words += " o'clock" if hour <= 24 else " hundred"
        elif minute < 10:
            words += " oh " + _ONES[minute]
        else:
            words += " " + number_to_words(minute)
        return f" {words} "
    if len(digits) > 1 and digits.startswith("0"):
        # "007", "0800": read as a digit string, as people say them.
        words = _digits_words(digits)
    elif m.group("ord"):
        words = ordinal_words(int(digits))
    else:
        words = number_to_words(int(digits))
    frac = (m.group("frac") or ".")[1:]
    cur = m.group("cur")
    if cur:
        changes["symbols"] += 1
        singular, plural = _CURRENCY[cur]
        words += " " + (singular if digits == "1" else plural)
        if len(frac) == 2:  # "$5.50": five dollars fifty
            words += " " + number_to_words(int(frac))
        elif frac:
            words += " point " + _digits_words(frac)
    elif frac:
        words += " point " + _digits_words(frac)
    if m.group("neg"):
        words = "minus " + words
    return f" {words} "


def normalize_text(text: str) -> NormalizedText:
    """Lower-case ASCII words for a synthesizer and a transcript; never raises.

    Numbers become words (cardinals, ordinals "3rd", decimals, times "7:30", amounts
    "$5", leading-zero digit strings "007"), symbols like % & + become words, other
    punctuation is removed (apostrophes inside words stay), accented letters are
    transliterated and anything else non-ASCII is dropped.
    """
    changes: Counter = Counter()
    s = _to_ascii(str(text), changes)
    s = _NUMBER.sub(lambda m: _spell_number(m, changes), s)
    for ch in _CURRENCY:  # a currency sign with no number after it
        if ch in s:
            changes["symbols"] += s.count(ch)
            s = s.replace(ch, " ")

    out = []
    for ch in s:
        if ch in _SYMBOLS:
            out.append(f" {_SYMBOLS[ch]} ")
            changes["symbols"] += 1
        elif ch.isalpha() or ch == "'" or ch.isspace():
            out.append(" " if ch.isspace() else ch.lower())
        else:
            out.append(" ")
            changes["punctuation"] += 1
    words = []
    for w in "".join(out).split():
        core = w.strip("'")
        # Apostrophes survive only inside a word ("don't"); quotes around words go.
        if len(w) > len(core):
            changes["punctuation"] += len(w) - len(core)
        core = re.sub(r"'{2,}", "'", core)
        if core:
            words.append(core)
    return NormalizedText(" ".join(words), changes)


SPEAKABLE = "'" + "abcdefghijklmnopqrstuvwxyz"  # what normalize_text leaves besides spaces


def tts_vocabulary():
    """The char vocabulary of Tacotron 2: the specials, the word boundary and ``SPEAKABLE``."""
    from s2s.data.tokens import character_vocabulary

    return character_vocabulary(SPEAKABLE)


def text_to_ids(text: str, vocab) -> list[int]:
    """Normalise ``text`` and map it to ``vocab`` ids ending with ``</s>``; never raises.

    Characters outside the vocabulary are spelled out (numbers) or dropped by the
    normaliser; see ``normalize_text`` for what it reports.
    """
    return [i for i in vocab.encode(normalize_text(text).text) if i != vocab.unk_id] + [vocab.eos_id]
