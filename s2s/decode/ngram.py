"""n-gram language models with KenLM: corpus normalisation, lmplz/build_binary, lexicons.

A word n-gram is only useful to the beam search if every word can be spelled in
the acoustic model's tokens, so everything here is driven by its ``Vocabulary``:

- characters (``tokens.txt`` with ``<space>``): the text is put in the tokens'
  case, characters outside the set are dropped (or the sentence skipped), and a
  word is spelled letter by letter;
- SentencePiece (pieces with the ``▁`` word-start mark): the text gets the
  tokenizer's normalisation and a word is spelled with the SentencePiece model
  (without the model, with the fewest pieces that cover it).

``train_ngram`` writes ``OUT/ngram.arpa`` (+ ``ngram.bin``) and ``OUT/lexicon.txt``;
``unit="token"`` trains a token-level n-gram instead (the text spelled in
tokens, for lexicon-free search).
"""

from __future__ import annotations

import collections
import gzip
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from s2s.data.tokens import LM_SPECIALS, CorpusStats, Vocabulary, read_corpus
from s2s.errors import S2SError
from s2s.io import atomic_open, atomic_path

REPO = Path(__file__).resolve().parents[2]


def find_kenlm_tool(name: str) -> str:
    """Path of KenLM's ``lmplz`` or ``build_binary``: tools/kenlm/bin first, then $PATH."""
    local = REPO / "tools" / "kenlm" / "bin" / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(name)
    if found:
        return found
    raise S2SError(f"KenLM's {name} not found in {local.parent} or on PATH; build it with "
                   f"bash tools/install_kenlm.sh (tools/setup.sh does)")


# ---- corpora -----------------------------------------------------------------------------


def write_normalized_corpus(sentences, out_path, vocab: Vocabulary | None, unit: str = "word",
                            oov: str = "drop") -> tuple[CorpusStats, collections.Counter]:
    """Write the normalised corpus lmplz will read; returns the stats and the word counts."""
    if unit not in ("word", "token"):
        raise S2SError(f"unit must be 'word' or 'token', got {unit!r}")
    if oov not in ("drop", "skip"):
        raise S2SError(f"oov must be 'drop' or 'skip', got {oov!r}")
    if unit == "token" and vocab is None:
        raise S2SError("a token-level n-gram needs the token list (--tokens data/lang/tokens.txt)")
    stats = CorpusStats()
    words: collections.Counter = collections.Counter()
    with open(out_path, "w", encoding="utf-8") as f:
        for raw in sentences:
            if not raw.strip():
                continue
            stats.sentences += 1
            line = vocab.normalize_line(raw, oov, stats) if vocab is not None else " ".join(raw.split())
            if line is None:
                stats.skipped += 1
                continue
            if unit == "token":
                toks = vocab.spell_text(line)
                if toks is None:
                    stats.skipped += 1
                    continue
                line = " ".join(toks)
            else:
                words.update(line.split())
            stats.kept += 1
            f.write(line + "\n")
    return stats, words


# ---- lmplz / build_binary ----------------------------------------------------------------


def _run(cmd: list[str], what: str) -> None:
    res = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if res.returncode != 0:
        tail = "\n".join(res.stderr.strip().splitlines()[-8:])
        raise S2SError(f"{what} failed (exit {res.returncode}): {' '.join(cmd)}\n{tail}")


def run_lmplz(corpus: Path, arpa_out: Path, order: int, prune: list[int] | None = None,
              memory: str = "10%", discount_fallback: bool = True, workdir: Path | None = None) -> None:
    """Estimate a modified Kneser-Ney ARPA of ``order`` from a normalised corpus (atomically)."""
    if order < 1:
        raise S2SError(f"n-gram order must be >= 1, got {order}")
    lmplz = find_kenlm_tool("lmplz")
    with atomic_path(arpa_out) as tmp:
        cmd = [lmplz, "-o", str(order), "-S", memory, "-T", str(workdir or tmp.parent),
               "--text", str(corpus), "--arpa", str(tmp)]
        if prune:
            if len(prune) > order:
                raise S2SError(f"--prune has {len(prune)} thresholds for an order-{order} model; give at most {order}")
            cmd += ["--prune", *[str(p) for p in prune]]
        if discount_fallback:
            # Tiny corpora lack the count-of-counts modified Kneser-Ney needs; KenLM then
            # falls back to fixed discounts instead of refusing.
            cmd.append("--discount_fallback")
        _run(cmd, "lmplz")


def run_build_binary(arpa: Path, out: Path, structure: str = "trie") -> None:
    """Convert an ARPA to KenLM's binary format (loads in seconds instead of minutes)."""
    tool = find_kenlm_tool("build_binary")
    with atomic_path(out) as tmp:
        _run([tool, "-S", "10%", structure, str(arpa), str(tmp)], "build_binary")


# ---- lexicons and LM vocabularies --------------------------------------------------------


def write_lexicon(path, words, vocab: Vocabulary) -> tuple[int, list[str]]:
    """Write ``word tok tok ...`` per line for each spellable word; returns (written, unspellable)."""
    n, bad = 0, []
    with atomic_open(path) as f:
        for w in sorted(set(words)):
            if w in LM_SPECIALS:
                continue
            sp = vocab.spell(w)
            if sp is None:
                bad.append(w)
                continue
            f.write(f"{w} {' '.join(sp)}\n")
            n += 1
    return n, bad


def read_lexicon(path, vocab: Vocabulary | None = None) -> dict[str, list[list[str]]]:
    """``word -> [spelling, ...]`` from a lexicon file; with ``vocab``, every token must exist."""
    path = Path(path)
    if not path.is_file():
        raise S2SError(f"{path}: lexicon not found; write one with python -m s2s.bin.train_ngram")
    lex: dict[str, list[list[str]]] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 2:
                raise S2SError(f"{path}:{lineno}: expected 'word token token ...', got {line.strip()!r}")
            word, spelling = parts[0], parts[1:]
            if vocab is not None:
                missing = [t for t in spelling if t not in vocab]
                if missing:
                    raise S2SError(f"{path}:{lineno}: word {word!r} is spelled with {missing} which are not in the "
                                   f"token list; re-create the lexicon for these tokens with python -m s2s.bin.train_ngram")
            lex.setdefault(word, []).append(spelling)
    if not lex:
        raise S2SError(f"{path}: empty lexicon")
    return lex


def is_arpa(path) -> bool:
    """True for an ARPA text file (plain or gzip), False for anything else (e.g. a KenLM binary)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return b"\\data\\" in head


def read_arpa_vocab(path) -> list[str]:
    """The unigrams of an ARPA file (read up to the end of the 1-gram section only)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    words: list[str] = []
    in_unigrams = False
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for line in f:
                s = line.strip()
                if s == "\\1-grams:":
                    in_unigrams = True
                    continue
                if in_unigrams:
                    if not s:
                        continue
                    if s.startswith("\\"):
                        break
                    parts = s.split("\t")
                    if len(parts) < 2:
                        parts = s.split()
                    words.append(parts[1])
    except (OSError, UnicodeDecodeError) as e:
        raise S2SError(f"{path}: cannot read the ARPA vocabulary ({e}); is it a valid ARPA file?") from None
    if not in_unigrams:
        raise S2SError(f"{path}: no \\1-grams: section; not an ARPA file")
    return words


def vocab_file_for(lm_path) -> Path:
    """Where train_ngram keeps the word list of a binary LM (KenLM's binary hides it)."""
    return Path(str(lm_path) + ".vocab")


def lm_vocabulary(lm_path) -> list[str] | None:
    """The LM's words: the ARPA's unigrams; for a binary, its ``.vocab`` file or the ARPA beside it
    (``ngram.bin`` -> ``ngram.arpa``/``ngram.arpa.gz``); None if unknown."""
    lm_path = Path(lm_path)
    if is_arpa(lm_path):
        return read_arpa_vocab(lm_path)
    side = vocab_file_for(lm_path)
    if side.is_file():
        return side.read_text(encoding="utf-8").split()
    for arpa in (lm_path.with_suffix(".arpa"), lm_path.with_suffix(".arpa.gz")):
        if arpa.is_file() and is_arpa(arpa):
            return read_arpa_vocab(arpa)
    return None


# ---- the whole job -----------------------------------------------------------------------


def train_ngram(out_dir, order: int = 4, texts: list[str] = (), corpora: list[str] = (),
                tokens: str | None = None, unit: str = "word", prune: list[int] | None = None,
                binary: bool = True, oov: str = "drop", memory: str = "10%",
                discount_fallback: bool = True) -> dict:
    """Train OUT/ngram.arpa (+ ngram.bin, ngram.bin.vocab) and, for word models with tokens, OUT/lexicon.txt.

    ``texts`` are Kaldi ``text`` tables, ``corpora`` plain text files (one sentence
    a line, ``.gz`` allowed). Returns a dict with the paths written and the stats.
    """
    if not texts and not corpora:
        raise S2SError("give at least one --text (Kaldi text table) or --corpus (plain text) to train on")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vocab = Vocabulary.load(tokens) if tokens else None

    def sentences():
        for t in texts:
            yield from read_corpus(t, kaldi_text=True)
        for c in corpora:
            yield from read_corpus(c)

    result: dict = {"unit": unit, "order": order}
    with tempfile.TemporaryDirectory(prefix="s2s_ngram_", dir=out) as tmp:
        corpus = Path(tmp) / "corpus.txt"
        stats, words = write_normalized_corpus(sentences(), corpus, vocab, unit=unit, oov=oov)
        result["stats"] = stats
        if stats.kept == 0:
            raise S2SError(f"no sentence of {', '.join([*texts, *corpora])} is left after normalising to the "
                           f"token set ({stats.summary()}); check --tokens and the corpus' characters")
        arpa = out / "ngram.arpa"
        run_lmplz(corpus, arpa, order, prune=prune, memory=memory, discount_fallback=discount_fallback,
                  workdir=Path(tmp))
        result["arpa"] = arpa
        lm_words = [w for w in read_arpa_vocab(arpa) if w not in LM_SPECIALS]
        if binary:
            bin_path = out / "ngram.bin"
            with atomic_open(vocab_file_for(bin_path)) as f:
                f.write("\n".join(lm_words) + "\n")
            run_build_binary(arpa, bin_path)
            result["binary"] = bin_path
    if unit == "word" and vocab is not None:
        n, bad = write_lexicon(out / "lexicon.txt", lm_words, vocab)
        result["lexicon"] = out / "lexicon.txt"
        result["lexicon_words"] = n
        result["unspellable"] = bad
    return result


def train_ngram_report(out_dir, **kw) -> dict:
    """``train_ngram`` with its summary (corpus normalisation, files written) printed on stderr."""
    import sys

    res = train_ngram(out_dir, **kw)
    prog = "s2s.bin.train_ngram"
    print(f"{prog}: corpus: {res['stats'].summary()}", file=sys.stderr)
    msg = f"{prog}: order-{res['order']} {res['unit']} n-gram {res['arpa']}"
    if "binary" in res:
        msg += f" and {res['binary']}"
    if "lexicon" in res:
        msg += f"; lexicon {res['lexicon']} ({res['lexicon_words']} words"
        msg += f", {len(res['unspellable'])} unspellable)" if res["unspellable"] else ")"
    print(msg, file=sys.stderr)
    return res
