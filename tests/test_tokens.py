"""Token inventories: data/lang format, char and SentencePiece round trips, blank and unk handling."""

import subprocess
import sys

import pytest

from s2s.bin import prepare_tokens
from s2s.data.tokens import Vocabulary, build_vocabulary, read_tokens, read_training_text
from s2s.errors import S2SError

TRANSCRIPTS = [
    "THE CAT SAT ON THE MAT",
    "HELLO WORLD",
    "A QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "THE DOG'S BONE WAS UNDER THE TABLE",
    "SHE SELLS SEA SHELLS BY THE SEA SHORE",
]


def write_text(path, lines):
    path.write_text("".join(f"utt{i:03d} {s}\n" for i, s in enumerate(lines)), encoding="utf-8")
    return path


@pytest.fixture
def text(tmp_path):
    return write_text(tmp_path / "text", TRANSCRIPTS)


def test_char_tokens_txt_format(text, tmp_path):
    assert prepare_tokens.main(["--text", str(text), "--out", str(tmp_path / "lang"), "--kind", "char"]) == 0
    lines = (tmp_path / "lang" / "tokens.txt").read_text(encoding="utf-8").splitlines()
    assert lines[:6] == ["<blank> 0", "<pad> 1", "<s> 2", "</s> 3", "<unk> 4", "<space> 5"]
    assert [ln.rsplit(" ", 1)[1] for ln in lines] == [str(i) for i in range(len(lines))]
    chars = [ln.rsplit(" ", 1)[0] for ln in lines[6:]]
    assert chars == sorted(set("".join(TRANSCRIPTS).replace(" ", "")))
    assert (tmp_path / "lang" / "token_type").read_text().strip() == "char"
    assert not (tmp_path / "lang" / "bpe.model").exists()


def test_char_round_trip(text, tmp_path):
    prepare_tokens.main(["--text", str(text), "--out", str(tmp_path / "lang"), "--kind", "char"])
    tok = Vocabulary.load(tmp_path / "lang")
    assert tok.kind == "char" and tok.blank_id == 0 and len(tok) == len(tok.tokens)
    for s in TRANSCRIPTS:
        ids = tok.encode(s)
        assert 0 not in ids
        assert tok.decode(ids) == s
    assert tok.unk_count == 0


def test_char_unknown_characters_map_to_unk_and_are_counted(text, tmp_path):
    prepare_tokens.main(["--text", str(text), "--out", str(tmp_path / "lang"), "--kind", "char"])
    tok = Vocabulary.load(tmp_path / "lang" / "tokens.txt")
    ids = tok.encode("THE ÇAT 9")
    assert ids.count(tok.unk_id) == 2 and 0 not in ids
    assert tok.unk_count == 2 and tok.unk_symbols == {"Ç": 1, "9": 1}
    assert tok.decode(ids) == "THE <unk>AT <unk>"
    assert tok.decode(ids, unk="") == "THE AT"


def test_decode_drops_blanks_and_collapses_spaces():
    tok = build_vocabulary(TRANSCRIPTS, "char")
    ids = tok.encode("THE CAT")
    padded = [0, 0] + [x for i in ids for x in (i, 0)] + [tok.space_id, tok.space_id]
    assert tok.decode(padded) == "THE CAT"


def test_lowercase_is_remembered_by_the_inventory(text, tmp_path):
    prepare_tokens.main(["--text", str(text), "--out", str(tmp_path / "lang"), "--kind", "char", "--lowercase"])
    tok = Vocabulary.load(tmp_path / "lang")
    assert "a" in tok.tokens and "A" not in tok.tokens
    assert tok.decode(tok.encode("The Cat")) == "the cat" and tok.unk_count == 0


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_sentencepiece_round_trip_and_layout(text, tmp_path, kind):
    lang = tmp_path / "lang"
    assert prepare_tokens.main(["--text", str(text), "--out", str(lang), "--kind", kind, "--vocab-size", "40"]) == 0
    assert (lang / "bpe.model").stat().st_size > 0
    assert (lang / "token_type").read_text().strip() == kind
    tokens = read_tokens(lang / "tokens.txt")
    assert tokens[:5] == ["<blank>", "<pad>", "<s>", "</s>", "<unk>"] and len(tokens) == 44  # 40 pieces + 4
    tok = Vocabulary.load(lang)
    assert tok.kind == kind and len(tok) == 44
    for s in TRANSCRIPTS:
        ids = tok.encode(s)
        assert 0 not in ids and tok.unk_id not in ids
        assert tok.decode(ids) == s


def test_sentencepiece_unknown_characters_map_to_unk(text, tmp_path):
    prepare_tokens.main(["--text", str(text), "--out", str(tmp_path / "lang"), "--kind", "bpe", "--vocab-size", "45"])
    tok = Vocabulary.load(tmp_path / "lang")
    ids = tok.encode("THE 123 CAT")
    assert tok.unk_id in ids and 0 not in ids
    assert tok.unk_count == 1 and tok.unk_symbols == {"123": 1}
    assert tok.decode(ids) == "THE <unk> CAT"


def test_tokenizer_survives_to_dict_round_trip():
    tok = build_vocabulary(TRANSCRIPTS, "bpe", vocab_size=40)
    again = Vocabulary.from_dict(tok.to_dict())
    assert again.tokens == tok.tokens and again.encode(TRANSCRIPTS[2]) == tok.encode(TRANSCRIPTS[2])


def test_vocab_size_larger_than_possible_is_an_error(text):
    with pytest.raises(S2SError, match="larger than this text allows"):
        build_vocabulary(TRANSCRIPTS, "bpe", vocab_size=5000, source=str(text))


def test_non_utf8_text_names_the_line(tmp_path):
    path = tmp_path / "text"
    path.write_bytes(b"u1 HELLO\nu2 CAF\xe9\n")
    assert prepare_tokens.main(["--text", str(path), "--out", str(tmp_path / "lang"), "--kind", "char"]) == 1
    with pytest.raises(S2SError, match=r"text:2: not valid UTF-8"):
        read_training_text(path)


def test_empty_text_file_is_an_error(tmp_path):
    (tmp_path / "text").write_text("")
    proc = subprocess.run([sys.executable, "-m", "s2s.bin.prepare_tokens", "--text", str(tmp_path / "text"),
                           "--out", str(tmp_path / "lang"), "--kind", "char"], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.startswith("prepare_tokens: error: ") and "empty text file" in proc.stderr
    assert not (tmp_path / "lang" / "tokens.txt").exists()


def test_old_token_list_without_the_specials_says_how_to_recreate_it(tmp_path):
    (tmp_path / "tokens.txt").write_text("<blank> 0\n<unk> 1\n<space> 2\na 3\n")
    with pytest.raises(S2SError, match=r"tokens.txt: the token list must start with the special symbols "
                                       r"<blank> <pad> <s> </s> <unk>.*before the one vocabulary.*prepare_tokens"):
        Vocabulary.load(tmp_path)


def test_specials_have_fixed_ids_and_sentences_are_framed_by_them():
    vocab = build_vocabulary(TRANSCRIPTS, "char")
    assert (vocab.blank_id, vocab.pad_id, vocab.bos_id, vocab.eos_id, vocab.unk_id) == (0, 1, 2, 3, 4)
    ids = vocab.encode_sentence("HELLO")
    assert ids[0] == vocab.bos_id and ids[-1] == vocab.eos_id and vocab.decode(ids) == "HELLO"
    assert vocab.decode([vocab.pad_id, vocab.blank_id] + vocab.encode("HI")) == "HI"


def test_tokens_txt_out_of_order_is_rejected(tmp_path):
    (tmp_path / "tokens.txt").write_text("<blank> 0\n<unk> 2\n")
    with pytest.raises(S2SError, match=r"tokens.txt:2: id 2 out of order"):
        Vocabulary.load(tmp_path / "tokens.txt")


def test_tokens_txt_must_start_with_blank(tmp_path):
    (tmp_path / "tokens.txt").write_text("<unk> 0\n<blank> 1\na 2\n")
    with pytest.raises(S2SError, match="<blank>"):
        Vocabulary.load(tmp_path)


def test_tokens_txt_from_another_run_than_bpe_model_is_rejected(text, tmp_path):
    prepare_tokens.main(["--text", str(text), "--out", str(tmp_path / "a"), "--kind", "bpe", "--vocab-size", "40"])
    prepare_tokens.main(["--text", str(text), "--out", str(tmp_path / "b"), "--kind", "bpe", "--vocab-size", "35"])
    (tmp_path / "a" / "bpe.model").write_bytes((tmp_path / "b" / "bpe.model").read_bytes())
    with pytest.raises(S2SError, match="does not match bpe.model"):
        Vocabulary.load(tmp_path / "a")
