"""Output token inventories for CTC models: characters or SentencePiece subwords.

A token inventory lives in a ``data/lang`` directory:

- ``tokens.txt``: ``token id`` per line, ids 0..V-1 in order. ``<blank> 0`` is
  always first (the CTC blank is ours, never a SentencePiece piece) and
  ``<unk> 1`` second. Characters then have ``<space>`` (the word separator)
  followed by the characters seen in the training text in code-point order;
  SentencePiece inventories have the model's pieces with ids shifted by one
  for the blank (the model's own unknown piece is ``<unk>``).
- ``token_type``: ``char``, ``bpe`` or ``unigram``.
- ``bpe.model``: the SentencePiece model (for ``bpe`` and ``unigram`` alike).
- ``normalization``: ``lowercase`` or ``none``, the text normalisation applied
  before training, so that ``encode`` applies the same one.

The flashlight beam decoder and the trainer both consume ``Tokenizer.tokens``:
``<blank>`` and ``<space>`` are the names they expect.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import tempfile
from pathlib import Path

from s2s.errors import S2SError
from s2s.io import atomic_open

BLANK = "<blank>"
UNK = "<unk>"
SPACE = "<space>"
SP_SPACE = "\u2581"  # SentencePiece's word-boundary mark "▁"
KINDS = ("char", "bpe", "unigram")
SP_MODEL = "bpe.model"


class Tokenizer:
    """Text <-> token ids. Blank is id 0 and ``encode`` never produces it; unknown input maps to ``<unk>`` (id 1).

    ``unk_count`` and ``unk_symbols`` accumulate, over all ``encode`` calls, how
    many ``<unk>`` ids were produced and for which input (characters for
    ``char``, the uncovered text spans for SentencePiece).
    """

    def __init__(self, tokens: list[str], kind: str = "char", sp_model: bytes | None = None,
                 lowercase: bool = False, source: str = "tokens"):
        if kind not in KINDS:
            raise S2SError(f"{source}: unknown token type {kind!r}; expected one of {', '.join(KINDS)}")
        if len(tokens) < 2 or tokens[0] != BLANK or tokens[1] != UNK:
            raise S2SError(f"{source}: the first tokens must be {BLANK} (id 0) and {UNK} (id 1); "
                           f"re-create it with python -m s2s.bin.prepare_tokens")
        dup = [t for t, n in collections.Counter(tokens).items() if n > 1]
        if dup:
            raise S2SError(f"{source}: duplicate tokens {dup[:5]}; re-create it with python -m s2s.bin.prepare_tokens")
        self.kind = kind
        self.tokens = list(tokens)
        self.lowercase = lowercase
        self.blank_id = 0
        self.unk_id = 1
        self._index = {t: i for i, t in enumerate(self.tokens)}
        self.space_id = self._index.get(SPACE)
        self.unk_count = 0
        self.unk_symbols: collections.Counter[str] = collections.Counter()
        self._sp = None
        self._sp_proto = None
        if kind != "char":
            if sp_model is None:
                raise S2SError(f"{source}: token type {kind} needs the SentencePiece model {SP_MODEL}")
            import sentencepiece as spm

            self._sp_proto = bytes(sp_model)
            self._sp = spm.SentencePieceProcessor(model_proto=self._sp_proto)
            pieces = [self._sp.id_to_piece(i) for i in range(self._sp.get_piece_size())]
            # The token list is the model's pieces shifted by the blank; anything else
            # means tokens.txt and bpe.model come from different runs.
            if self.tokens[1:] != [UNK] + pieces[1:] or self._sp.unk_id() != 0:
                raise S2SError(f"{source}: tokens.txt does not match {SP_MODEL} "
                               f"({len(self.tokens) - 1} vs {len(pieces)} pieces); they come from different "
                               f"runs; re-create both with python -m s2s.bin.prepare_tokens")

    # ---- loading and saving -------------------------------------------------

    @classmethod
    def load(cls, path) -> "Tokenizer":
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
        if kind != "char":
            model = lang / SP_MODEL
            if not model.is_file():
                raise S2SError(f"{model}: not found but {type_file} says {kind}; "
                               f"re-create {lang} with python -m s2s.bin.prepare_tokens")
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
    def from_dict(cls, d: dict) -> "Tokenizer":
        return cls(d["tokens"], kind=d["kind"], sp_model=d.get("sp_model"),
                   lowercase=bool(d.get("lowercase", False)), source="checkpoint tokenizer")

    # ---- the mapping ----------------------------------------------------------

    def __len__(self) -> int:
        return len(self.tokens)

    def __repr__(self) -> str:
        return f"Tokenizer(kind={self.kind!r}, size={len(self)}, lowercase={self.lowercase})"

    def token_to_id(self, token: str) -> int:
        return self._index.get(token, self.unk_id)

    def id_to_token(self, i: int) -> str:
        return self.tokens[i]

    def normalize(self, text: str) -> str:
        """The text as the inventory sees it: whitespace collapsed, lower-cased if trained so."""
        text = " ".join(text.split())
        return text.lower() if self.lowercase else text

    def encode(self, text: str) -> list[int]:
        """Token ids for ``text``; never the blank; unknown characters/spans become ``<unk>``."""
        text = self.normalize(text)
        if self._sp is None:
            ids = []
            for ch in text:
                i = self.space_id if ch == " " else self._index.get(ch)
                if i is None:
                    i = self.unk_id
                if i == self.unk_id:
                    self.unk_count += 1
                    self.unk_symbols[ch] += 1
                ids.append(i)
            return ids
        pieces = self._sp.encode(text, return_type="proto").pieces
        ids = []
        for p in pieces:
            if p.id == self._sp.unk_id():
                self.unk_count += 1
                self.unk_symbols[p.surface] += 1
            ids.append(p.id + 1)
        return ids

    def decode(self, ids, unk: str = UNK) -> str:
        """Text for ``ids``: blanks dropped, ``<space>``/``▁`` become spaces, ``<unk>`` becomes ``unk``.

        Pass ``unk=""`` to drop unknowns instead of marking them. Whitespace in the
        result is collapsed and stripped.
        """
        out = []
        n = len(self.tokens)
        for i in ids:
            i = int(i)
            if not 0 <= i < n:
                raise S2SError(f"token id {i} is outside this inventory of {n} tokens; "
                               f"was the model trained with a different tokens.txt?")
            if i == self.blank_id:
                continue
            if i == self.unk_id:
                out.append(unk)
            elif self._sp is None:
                out.append(" " if i == self.space_id else self.tokens[i])
            else:
                out.append(self.tokens[i].replace(SP_SPACE, " "))
        return " ".join("".join(out).split())


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
                raise S2SError(f"{path}:{lineno}: not valid UTF-8; re-create it with python -m s2s.bin.prepare_tokens") from None
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


def build_tokenizer(lines: list[str], kind: str, vocab_size: int | None = None,
                    lowercase: bool = False, num_threads: int = 1, source: str = "text") -> Tokenizer:
    """Build an inventory from training transcripts (already normalised as ``lowercase`` says).

    ``vocab_size`` is the SentencePiece vocabulary (``<unk>`` included); the
    inventory has one more entry, the blank. It is required for subwords and
    rejected for characters.
    """
    if kind not in KINDS:
        raise S2SError(f"unknown token type {kind!r}; use one of {', '.join(KINDS)}")
    if kind == "char":
        if vocab_size is not None:
            raise S2SError("--vocab-size applies to bpe and unigram only; a char inventory holds every character seen")
        chars = sorted({ch for s in lines for ch in s if ch != " "})
        return Tokenizer([BLANK, UNK, SPACE] + chars, kind="char", lowercase=lowercase)
    if vocab_size is None:
        raise S2SError(f"--vocab-size is required for --kind {kind} (e.g. 500 for 100 hours, 5000 for 1000 hours)")
    if vocab_size < 2:
        raise S2SError(f"--vocab-size {vocab_size} is too small; use at least the number of distinct characters")
    import sentencepiece as spm

    model = _train_sentencepiece(lines, kind, vocab_size, num_threads, source)
    sp = spm.SentencePieceProcessor(model_proto=model)
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    return Tokenizer([BLANK] + pieces, kind=kind, sp_model=model, lowercase=lowercase)


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
                    # Our blank takes id 0; SentencePiece keeps only <unk>, no bos/eos/pad.
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
