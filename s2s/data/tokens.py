"""The vocabulary: text <-> token ids for every model, decoder and language model of s2s.

One class, :class:`Vocabulary`, serves CTC acoustic models, the neural and n-gram
LMs, n-best rescoring, flashlight's beam search, Tacotron 2 and attention
decoders. Its first ids are fixed special symbols:

====  ===========  ==========================================================
id    symbol       role
====  ===========  ==========================================================
0     ``<blank>``  the CTC blank (never produced by ``encode``)
1     ``<pad>``    padding of token sequences (embeddings ignore it)
2     ``<s>``      beginning of a sentence (LM and decoder input start)
3     ``</s>``     end of a sentence (what LMs and decoders predict last)
4     ``<unk>``    anything the inventory cannot spell
====  ===========  ==========================================================

Then the units:

- ``char``: ``<space>`` (id 5, the word boundary) followed by the characters seen in
  the training text in code-point order;
- ``bpe`` / ``unigram``: the pieces of a SentencePiece model whose own id 0 is its
  ``<unk>``; piece ``k`` has id ``k + 4`` (so SentencePiece's unknown is ours). The
  word boundary is the ``▁`` mark that starts a word's first piece;
- ``word``: whole words (whitespace-separated), the most frequent first (word-level
  language models: WikiText's own ``<unk>`` is ours); every token starts a word.

A vocabulary lives in a ``data/lang`` directory: ``tokens.txt`` (``token id`` per
line), ``token_type`` (char, bpe, unigram or word), ``normalization`` (lowercase or none:
applied by ``encode``) and, for subwords, ``bpe.model``. Checkpoints embed it
(``to_dict``), so a trained model needs nothing beside it.
"""

from __future__ import annotations

import collections
import contextlib
import gzip
import os
import re
import sys
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from s2s.errors import S2SError
from s2s.io import atomic_open

BLANK = "<blank>"
PAD = "<pad>"
BOS = "<s>"
EOS = "</s>"
UNK = "<unk>"
SPACE = "<space>"
SPECIALS = (BLANK, PAD, BOS, EOS, UNK)
SP_SPACE = "\u2581"  # SentencePiece's word-boundary mark "▁"
SP_OFFSET = len(SPECIALS) - 1  # our id = SentencePiece id + 4 (its <unk>, id 0, is our id 4)
KINDS = ("char", "bpe", "unigram", "word")
SP_MODEL = "bpe.model"
# Words of an ARPA file that are not words of the text.
LM_SPECIALS = ("<s>", "</s>", "<unk>", "<UNK>")
RECREATE = "re-create it with python -m s2s.bin.prepare_tokens --text data/train/text --out data/lang"


@dataclass
class CorpusStats:
    """What ``Vocabulary.normalize_line`` did to a corpus (reported by train_ngram)."""

    sentences: int = 0
    kept: int = 0
    skipped: int = 0
    dropped_chars: collections.Counter = field(default_factory=collections.Counter)

    def summary(self) -> str:
        s = f"{self.kept} of {self.sentences} sentences kept"
        if self.skipped:
            s += f", {self.skipped} skipped for characters outside the tokens"
        if self.dropped_chars:
            top = ", ".join(f"{c!r}x{n}" for c, n in self.dropped_chars.most_common(8))
            s += f", {sum(self.dropped_chars.values())} characters outside the tokens dropped ({top})"
        return s


class Vocabulary:
    """Token inventory with fixed specials (see the module docstring).

    ``unk_count`` and ``unk_symbols`` accumulate, over all ``encode`` calls, how many
    ``<unk>`` ids were produced and for which input (characters for ``char``, the
    uncovered text spans for SentencePiece).
    """

    blank_id, pad_id, bos_id, eos_id, unk_id = range(len(SPECIALS))

    def __init__(self, tokens: list[str], kind: str = "char", sp_model: bytes | None = None,
                 lowercase: bool = False, source: str = "tokens"):
        if kind not in KINDS:
            raise S2SError(f"{source}: unknown token type {kind!r}; expected one of {', '.join(KINDS)}")
        tokens = list(tokens)
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            old = len(tokens) >= 2 and tokens[0] == BLANK and tokens[1] == UNK
            raise S2SError(
                f"{source}: the token list must start with the special symbols {' '.join(SPECIALS)} (ids 0-4)"
                + ("; it was written by an s2s version before the one vocabulary" if old else "")
                + f"; {RECREATE}")
        dup = [t for t, n in collections.Counter(tokens).items() if n > 1]
        if dup:
            raise S2SError(f"{source}: duplicate tokens {dup[:5]}; {RECREATE}")
        self.kind = kind
        self.tokens = tokens
        self.lowercase = lowercase
        self.source = source
        self._index = {t: i for i, t in enumerate(self.tokens)}
        self.unk_count = 0
        self.unk_symbols: collections.Counter[str] = collections.Counter()
        units = self.tokens[len(SPECIALS):]
        self._sp = None
        self._sp_proto = None
        if kind == "char":
            if SPACE not in self._index:
                raise S2SError(f"{source}: a char inventory needs the word separator {SPACE} after the specials; "
                               f"{RECREATE}")
            bad = [t for t in units if t != SPACE and len(t) != 1]
            if bad:
                raise S2SError(f"{source}: char tokens must be single characters, got {bad[:5]}; "
                               f"SentencePiece pieces need token_type bpe or unigram and {SP_MODEL}")
            self.space_id: int | None = self._index[SPACE]
            self.chars = {t for t in units if t != SPACE}
        elif kind == "word":
            bad = [t for t in units if not t or t != "".join(t.split())]
            if bad:
                raise S2SError(f"{source}: word tokens cannot be empty or contain whitespace, got {bad[:5]!r}")
            self.space_id = None
            self.chars = {c for t in units for c in t}
        else:
            if sp_model is None:
                raise S2SError(f"{source}: token type {kind} needs the SentencePiece model {SP_MODEL}")
            import sentencepiece as spm

            self._sp_proto = bytes(sp_model)
            self._sp = spm.SentencePieceProcessor(model_proto=self._sp_proto)
            pieces = [self._sp.id_to_piece(i) for i in range(self._sp.get_piece_size())]
            # The token list is the model's pieces after the specials; anything else means
            # tokens.txt and bpe.model come from different runs.
            if units != pieces[1:] or self._sp.unk_id() != 0:
                raise S2SError(f"{source}: tokens.txt does not match {SP_MODEL} ({len(units)} vs "
                               f"{len(pieces) - 1} pieces); they come from different runs; {RECREATE}")
            self.space_id = None
            self.chars = {c for t in units for c in t if c != SP_SPACE}
        letters = [c for c in self.chars if c.isalpha() and c.lower() != c.upper()]
        # The case text is put in before spelling: the tokens' case when they are all one case.
        if lowercase or (letters and all(c == c.lower() for c in letters)):
            self.case = "lower"
        elif letters and all(c == c.upper() for c in letters):
            self.case = "upper"
        else:
            self.case = "keep"

    # ---- loading and saving -------------------------------------------------

    @classmethod
    def load(cls, path) -> "Vocabulary":
        """Load from a ``tokens.txt`` path or the lang directory that holds it."""
        path = Path(path)
        tokens_txt = path / "tokens.txt" if path.is_dir() else path
        lang = tokens_txt.parent
        tokens = read_tokens(tokens_txt)
        type_file = lang / "token_type"
        if type_file.is_file():
            kind = type_file.read_text(encoding="utf-8").strip()
        else:
            # tokens.txt written by hand or by another tool: a model beside it means subwords.
            kind = "bpe" if (lang / SP_MODEL).is_file() else "char"
        sp_model = None
        if kind in ("bpe", "unigram"):
            model = lang / SP_MODEL
            if not model.is_file():
                raise S2SError(f"{model}: not found but {type_file} says {kind}; re-create {lang} with "
                               f"python -m s2s.bin.prepare_tokens")
            sp_model = model.read_bytes()
        norm_file = lang / "normalization"
        lowercase = norm_file.is_file() and norm_file.read_text(encoding="utf-8").strip() == "lowercase"
        return cls(tokens, kind=kind, sp_model=sp_model, lowercase=lowercase, source=str(tokens_txt))

    def save(self, lang_dir) -> None:
        """Write ``tokens.txt``, ``token_type``, ``normalization`` and (subwords) ``bpe.model`` atomically.

        ``tokens.txt`` is written last, so its presence means the directory is complete.
        """
        lang = Path(lang_dir)
        lang.mkdir(parents=True, exist_ok=True)
        if self._sp_proto is not None:
            with atomic_open(lang / SP_MODEL, "wb") as f:
                f.write(self._sp_proto)
        else:
            # A stale subword model beside a char inventory would only mislead readers.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lang / SP_MODEL)
        with atomic_open(lang / "token_type") as f:
            f.write(self.kind + "\n")
        with atomic_open(lang / "normalization") as f:
            f.write(("lowercase" if self.lowercase else "none") + "\n")
        with atomic_open(lang / "tokens.txt") as f:
            for i, t in enumerate(self.tokens):
                f.write(f"{t} {i}\n")

    def to_dict(self) -> dict:
        """Plain data (for checkpoints): kind, tokens, lowercase and the SentencePiece model bytes."""
        return {"kind": self.kind, "tokens": list(self.tokens), "lowercase": self.lowercase,
                "sp_model": self._sp_proto}

    @classmethod
    def from_dict(cls, d: dict, source: str = "checkpoint vocabulary") -> "Vocabulary":
        return cls(d["tokens"], kind=d["kind"], sp_model=d.get("sp_model"),
                   lowercase=bool(d.get("lowercase", False)), source=source)

    # ---- the mapping ----------------------------------------------------------

    def __len__(self) -> int:
        return len(self.tokens)

    def __repr__(self) -> str:
        return f"Vocabulary(kind={self.kind!r}, size={len(self)}, lowercase={self.lowercase})"

    def __contains__(self, token: str) -> bool:
        return token in self._index

    def token_to_id(self, token: str) -> int:
        return self._index.get(token, self.unk_id)

    def id_to_token(self, i: int) -> str:
        return self.tokens[i]

    def normalize(self, text: str) -> str:
        """The text as the inventory sees it: whitespace collapsed, lower-cased if trained so."""
        text = " ".join(text.split())
        return text.lower() if self.lowercase else text

    def encode(self, text: str) -> list[int]:
        """Token ids for ``text`` (no specials but ``<unk>``, which unknown characters/spans become)."""
        text = self.normalize(text)
        if self.kind == "word":
            ids = []
            for w in text.split():
                i = self._index.get(w, self.unk_id)
                if i == self.unk_id and w != UNK:  # the corpus's own <unk> is not an unknown symbol
                    self.unk_count += 1
                    self.unk_symbols[w] += 1
                ids.append(i)
            return ids
        if self._sp is None:
            ids = []
            for ch in text:
                i = self.space_id if ch == " " else self._index.get(ch, self.unk_id)
                if i == self.unk_id:
                    self.unk_count += 1
                    self.unk_symbols[ch] += 1
                ids.append(i)
            return ids
        ids = []
        for p in self._sp.encode(text, return_type="proto").pieces:
            if p.id == self._sp.unk_id():
                self.unk_count += 1
                self.unk_symbols[p.surface] += 1
            ids.append(p.id + SP_OFFSET)
        return ids

    def encode_sentence(self, text: str) -> list[int]:
        """``<s> tokens </s>`` ids of one sentence (what LMs and decoders are trained on)."""
        return [self.bos_id] + self.encode(text) + [self.eos_id]

    def decode(self, ids, unk: str = UNK) -> str:
        """Text for ``ids``: specials dropped, ``<space>``/``▁`` become spaces, ``<unk>`` becomes ``unk``.

        Pass ``unk=""`` to drop unknowns instead of marking them. Whitespace in the
        result is collapsed and stripped.
        """
        return " ".join("".join(self.token_texts(ids, unk)).split())

    def token_texts(self, ids, unk: str = UNK) -> list[str]:
        """The text each id stands for ("" for specials, " " for a word boundary), for alignments."""
        out = []
        n = len(self.tokens)
        for i in ids:
            i = int(i)
            if not 0 <= i < n:
                raise S2SError(f"token id {i} is outside this vocabulary of {n} tokens; "
                               f"was the model trained with a different tokens.txt?")
            if i == self.unk_id:
                out.append(f" {unk}" if self.kind == "word" and unk else unk)
            elif i < len(SPECIALS):
                out.append("")
            elif i == self.space_id:
                out.append(" ")
            elif self.kind == "word":
                out.append(" " + self.tokens[i])
            else:
                out.append(self.tokens[i].replace(SP_SPACE, " "))
        return out

    def starts_word(self, i: int) -> bool:
        """True when token ``i`` begins a new word (SentencePiece ``▁`` pieces; for characters the
        token after a ``<space>``, which the caller tracks)."""
        return self.kind == "word" or (self.kind != "char" and self.tokens[i].startswith(SP_SPACE))

    # ---- spelling words in tokens (n-gram LMs, lexicons) ---------------------------------------

    def fold_case(self, text: str) -> str:
        if self.case == "lower":
            return text.lower()
        if self.case == "upper":
            return text.upper()
        return text

    def normalize_line(self, line: str, oov: str = "drop", stats: CorpusStats | None = None) -> str | None:
        """``line`` in the tokens' case with only characters the tokens have; None when skipped.

        ``oov="drop"`` removes unknown characters, ``"skip"`` rejects the sentence.
        """
        line = " ".join(self.fold_case(unicodedata.normalize("NFC", line)).split())
        bad = [c for c in line if c != " " and c not in self.chars]
        if bad:
            if stats is not None and oov == "drop":
                stats.dropped_chars.update(bad)
            if oov == "skip":
                return None
            line = " ".join("".join(c for c in line if c == " " or c in self.chars).split())
        return line or None

    def spell(self, word: str) -> list[str] | None:
        """The token spelling of one word (no word separator), or None if it cannot be spelled."""
        if not word or any(c not in self.chars for c in word):
            return None
        if self.kind == "char":
            return list(word)
        if self.kind == "word":
            return [word] if word in self._index else None
        pieces = self._sp.encode(word, out_type=str)
        return pieces if all(p in self._index for p in pieces) else None

    def spell_text(self, line: str) -> list[str] | None:
        """A whole (normalised) sentence in tokens, word separators included (for token-level LMs)."""
        out: list[str] = []
        for k, w in enumerate(line.split()):
            sp = self.spell(w)
            if sp is None:
                return None
            if self.kind == "char" and k > 0:
                out.append(SPACE)
            out.extend(sp)
        return out


def read_tokens(path) -> list[str]:
    """Read a ``tokens.txt`` (``token id`` per line, ids 0..V-1 in order) into the token list."""
    path = Path(path)
    if not path.is_file():
        raise S2SError(f"{path}: token list not found; create it with "
                       f"python -m s2s.bin.prepare_tokens --text data/train/text --out {path.parent}")
    tokens = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                raise S2SError(f"{path}:{lineno}: not valid UTF-8; {RECREATE}") from None
            parts = line.rsplit(" ", 1)
            if len(parts) != 2 or not parts[0] or not parts[1].isdigit():
                raise S2SError(f"{path}:{lineno}: expected 'token id', got {line!r}")
            if int(parts[1]) != len(tokens):
                raise S2SError(f"{path}:{lineno}: id {parts[1]} out of order, expected {len(tokens)}; "
                               f"ids must run 0, 1, 2, ...")
            tokens.append(parts[0])
    if not tokens:
        raise S2SError(f"{path}: empty token list")
    return tokens


def read_training_text(path, lowercase: bool = False) -> list[str]:
    """The transcripts (without utterance ids) of a Kaldi ``text`` table, whitespace-normalised.

    Raises S2SError for a missing or empty file, non-UTF-8 lines (named) and a
    table without a single word.
    """
    from s2s.data.datadir import read_table

    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise S2SError(f"{path}: empty text file; run data preparation first (it needs 'utt words...' lines)")
    table = read_table(path, allow_empty_value=True)
    lines = [" ".join(v.split()) for v in table.values()]
    if lowercase:
        lines = [s.lower() for s in lines]
    lines = [s for s in lines if s]
    if not lines:
        raise S2SError(f"{path}: no words in any of its {len(table)} lines; check data preparation")
    return lines


def unexpected_characters(lines: list[str], source="text") -> list[str]:
    """Warnings for characters that usually mean the transcripts were not normalised: digits,
    punctuation (apostrophes and hyphens inside words are fine) and upper-case letters in text
    that is mostly lower case (or the other way round), each with counts and examples. A
    character model learns each of them as a token of its own; numbers are better spelled out."""
    digits: collections.Counter = collections.Counter()
    punct: collections.Counter = collections.Counter()
    upper: collections.Counter = collections.Counter()
    lower: collections.Counter = collections.Counter()
    for line in lines:
        for i, ch in enumerate(line):
            if ch.isdigit():
                digits[ch] += 1
            elif ch.isupper():
                upper[ch] += 1
            elif ch.islower():
                lower[ch] += 1
            elif unicodedata.category(ch).startswith(("P", "S")):
                inside = 0 < i < len(line) - 1 and line[i - 1].isalpha() and line[i + 1].isalpha()
                if not (ch in "'-’" and inside):
                    punct[ch] += 1

    def top(c: collections.Counter) -> str:
        return ", ".join(f"{ch!r} {n}" for ch, n in c.most_common(8))

    out = []
    if digits:
        out.append(f"{source}: {sum(digits.values())} digit(s) in the transcripts ({top(digits)}); "
                   f"spell numbers out as they are spoken (for English, utils/data_dir_from_folder.sh does)")
    if punct:
        out.append(f"{source}: {sum(punct.values())} punctuation mark(s) or symbol(s) ({top(punct)}); "
                   f"remove those that are not spoken, or each becomes a token to predict")
    minority, majority, name = (upper, lower, "upper") if sum(lower.values()) >= sum(upper.values()) \
        else (lower, upper, "lower")
    if minority and majority:
        out.append(f"{source}: {sum(minority.values())} {name}-case letter(s) in mostly {'lower' if name == 'upper' else 'upper'}"
                   f"-case text ({top(minority)}); the two cases become different tokens: use one case "
                   f"(prepare_tokens --lowercase)")
    return out


def character_vocabulary(chars, lowercase: bool = False) -> Vocabulary:
    """A char vocabulary over ``chars`` (spaces are the word separator, not characters)."""
    units = sorted({c for c in chars if not c.isspace()})
    return Vocabulary([*SPECIALS, SPACE, *units], kind="char", lowercase=lowercase)


def word_vocabulary(lines, vocab_size: int | None = None, lowercase: bool = False) -> Vocabulary:
    """A word inventory of ``lines``: the most frequent words (ties in order of first appearance),
    ``vocab_size - 1`` of them plus ``<unk>`` as for SentencePiece (the other specials come on top),
    or every word when ``vocab_size`` is None."""
    counts: collections.Counter[str] = collections.Counter()
    for line in lines:
        counts.update(line.lower().split() if lowercase else line.split())
    for special in (*SPECIALS, SPACE):
        counts.pop(special, None)
    words = [w for w, _ in counts.most_common()]  # stable: equal counts keep first-seen order
    if vocab_size is not None:
        if vocab_size < 2:
            raise S2SError(f"--vocab-size {vocab_size} leaves no room for words beside <unk>")
        words = words[: vocab_size - 1]
    if not words:
        raise S2SError("no words in the text; a word inventory needs training text")
    return Vocabulary([*SPECIALS, *words], kind="word", lowercase=lowercase)


def build_vocabulary(lines: list[str], kind: str, vocab_size: int | None = None,
                     lowercase: bool = False, num_threads: int = 1, source: str = "text") -> Vocabulary:
    """Build an inventory from training transcripts (already normalised as ``lowercase`` says).

    ``vocab_size`` is the SentencePiece vocabulary (its ``<unk>`` included); the
    inventory adds the other four specials. It is required for subwords and
    rejected for characters.
    """
    if kind not in KINDS:
        raise S2SError(f"unknown token type {kind!r}; use one of {', '.join(KINDS)}")
    if kind == "char":
        if vocab_size is not None:
            raise S2SError("--vocab-size applies to bpe, unigram and word only; a char inventory holds every "
                           "character seen")
        return character_vocabulary("".join(lines), lowercase=lowercase)
    if kind == "word":
        return word_vocabulary(lines, vocab_size, lowercase=lowercase)
    if vocab_size is None:
        raise S2SError(f"--vocab-size is required for --kind {kind} (e.g. 500 for 100 hours, 5000 for 1000 hours)")
    if vocab_size < 2:
        raise S2SError(f"--vocab-size {vocab_size} is too small; use at least the number of distinct characters")
    import sentencepiece as spm

    model = _train_sentencepiece(lines, kind, vocab_size, num_threads, source)
    sp = spm.SentencePieceProcessor(model_proto=model)
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    return Vocabulary([*SPECIALS, *pieces[1:]], kind=kind, sp_model=model, lowercase=lowercase)


def _train_sentencepiece(lines: list[str], kind: str, vocab_size: int, num_threads: int, source: str) -> bytes:
    """Train a SentencePiece model on ``lines`` and return its serialized bytes."""
    import sentencepiece as spm

    with tempfile.TemporaryDirectory(prefix="s2s_spm_") as tmp:
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
        prefix = Path(tmp) / "m"
        try:
            with open(os.devnull, "w") as devnull:
                spm.SentencePieceTrainer.train(
                    input=str(corpus), model_prefix=str(prefix), model_type=kind,
                    vocab_size=vocab_size, character_coverage=1.0,
                    # Identity normalisation: encode/decode round trips exactly and the
                    # inventory sees the transcripts as data preparation wrote them.
                    normalization_rule_name="identity",
                    # Our specials come first; SentencePiece keeps only <unk>, which is ours.
                    unk_id=0, unk_piece=UNK, bos_id=-1, eos_id=-1, pad_id=-1,
                    input_sentence_size=5_000_000, shuffle_input_sentence=True,
                    num_threads=max(1, num_threads), logstream=devnull)
        except RuntimeError as e:
            msg = str(e)
            m = re.search(r"value <= (\d+)", msg)
            if m:
                raise S2SError(f"{source}: --vocab-size {vocab_size} is larger than this text allows "
                               f"(at most {m.group(1)} for {kind}); lower it or train on more text") from None
            m = re.search(r"smaller than required_chars\. (\d+) vs (\d+)", msg)
            if m:
                raise S2SError(f"{source}: --vocab-size {vocab_size} is too small for the characters in this "
                               f"text; use at least {m.group(2)}") from None
            raise S2SError(f"{source}: SentencePiece training failed: {msg}") from None
        return (Path(tmp) / "m.model").read_bytes()


def read_corpus(path, kaldi_text: bool = False):
    """Yield the sentences of a plain text file (``.gz`` allowed) or of a Kaldi ``text`` table."""
    path = Path(path)
    if not path.is_file():
        raise S2SError(f"{path}: corpus not found")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="strict") as f:
        lineno = 0
        try:
            for lineno, line in enumerate(f, 1):
                if kaldi_text:
                    parts = line.split(maxsplit=1)
                    line = parts[1] if len(parts) > 1 else ""
                yield line
        except UnicodeDecodeError:
            raise S2SError(f"{path}:{lineno + 1}: not valid UTF-8; convert the corpus to UTF-8") from None


def prepare_lang(text, out, kind: str, vocab_size: int | None = None, lowercase: bool = False,
                 num_threads: int = 1, transcript_checks: bool = True) -> Vocabulary:
    """Build the vocabulary of one Kaldi ``text`` table, or a joint one of several (a list: e.g. both
    sides of a parallel corpus), and write it as the lang dir ``out``."""
    texts = [str(t) for t in text] if isinstance(text, (list, tuple)) else [str(text)]
    lines = []
    for t in texts:
        part = read_training_text(t, lowercase=lowercase)
        for warning in unexpected_characters(part, t) if transcript_checks else []:
            print(f"prepare_tokens: warning: {warning}", file=sys.stderr)
        lines += part
    vocab = build_vocabulary(lines, kind, vocab_size=vocab_size, lowercase=lowercase, num_threads=num_threads,
                             source=" + ".join(texts))
    vocab.save(out)
    n_words = sum(len(s.split()) for s in lines)
    print(f"prepare_tokens: {out}/tokens.txt: {len(vocab)} {vocab.kind} tokens ({len(SPECIALS)} specials "
          f"included) from {len(lines)} transcripts, {n_words} words")
    return vocab
