"""Attention speech recognition (task asr with a decoder): LAS and joint CTC-attention on toy features."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from toy_asr import ROOT, make_toy_corpus, run_train, toy_config  # noqa: E402

from s2s.errors import S2SError  # noqa: E402
from s2s.score.wer import score_texts  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("att")
    corpus = make_toy_corpus(root, n_train=64, n_valid=8)
    for name, decoder, conf, ctc in (
            ("jca", "transformer", {"d_model": 32, "num_heads": 2, "num_layers": 1, "ff_dim": 64, "dropout": 0.0}, 0.3),
            ("las", "rnn", {"hidden": 32, "num_layers": 1, "attention": "bahdanau", "dropout": 0.0}, 0.0)):
        cfg = toy_config(root, corpus, decoder=decoder, decoder_conf=conf, ctc_weight=ctc, label_smoothing=0.0,
                         max_epochs=40, model_conf={"dropout": 0.0})
        run_train(root, "--config", str(cfg), "--exp-dir", f"exp/{name}")
    return root, corpus


def decode(root: Path, corpus: dict, exp: str, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "s2s.bin.decode", "--model", f"exp/{exp}/checkpoints/last.pt",
                           "--data", str(corpus["valid"]), "--out", f"exp/{exp}/dec", "--decoder", "attention",
                           *extra], cwd=root, env=env, capture_output=True, text=True)


def wer(root: Path, corpus: dict, exp: str) -> float:
    ref = dict(line.split(maxsplit=1) for line in open(corpus["valid"] / "text"))
    hyp = {}
    for line in open(root / f"exp/{exp}/dec/text"):
        parts = line.split(maxsplit=1)
        hyp[parts[0]] = parts[1].strip() if len(parts) > 1 else ""
    return score_texts({k: v.strip() for k, v in ref.items()}, hyp).wer


def test_joint_ctc_attention_and_las_learn_and_decode(trained):
    root, corpus = trained
    wers = {}
    for exp, extra in (("jca", ("--ctc-weight", "0.3")), ("jca", ("--ctc-weight", "0")), ("las", ())):
        proc = decode(root, corpus, exp, "--att-beam", "4", *extra)
        assert proc.returncode == 0, proc.stderr
        wers[(exp, *extra)] = wer(root, corpus, exp)
    # 64 toy utterances: the joint model decoded with its CTC prefix scores is far better than its
    # attention decoder alone (measured 7.7 % against 46 %), and LAS learns too (23 %).
    joint, att_only, las = wers.values()
    assert joint <= 25.0 and joint < att_only, wers
    assert las <= 40.0, wers
    # A model without a CTC head cannot be decoded jointly; a CTC-only decoder is refused for attention models.
    proc = decode(root, corpus, "las", "--ctc-weight", "0.5")
    assert proc.returncode == 1 and "CTC head" in proc.stderr
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "s2s.bin.decode", "--model", "exp/jca/checkpoints/last.pt", "--data",
                           str(corpus["valid"]), "--out", "exp/jca/greedy"], cwd=root, env=env, capture_output=True,
                          text=True)
    assert proc.returncode == 1 and "--decoder attention" in proc.stderr
    # A speech model is not a translation model.
    proc = subprocess.run([sys.executable, "-m", "s2s.bin.translate", "exp/jca/checkpoints/last.pt"], input="a b\n",
                          cwd=root, env=env, capture_output=True, text=True)
    assert proc.returncode == 1 and "'asr' model" in proc.stderr and "'mt'" in proc.stderr


def test_word_ngram_fusion_from_the_command_line(trained):
    import collections

    from corpora import word_list_arpa
    from toy_asr import WORDS

    root, corpus = trained
    proc = decode(root, corpus, "las", "--att-beam", "4")
    assert proc.returncode == 0, proc.stderr
    alone = [line.split()[1:] for line in open(root / "exp/las/dec/text")]
    # An n-gram of the toy corpus's words but the one LAS writes most: fused with unknown words
    # forbidden, that word disappears from the output; the rest keep to the n-gram's words.
    gone = collections.Counter(w for words in alone for w in words).most_common(1)[0][0]
    kept = [w for w in WORDS if w != gone]
    arpa = root / "words.arpa"
    arpa.write_text(word_list_arpa(kept, -0.9))
    proc = decode(root, corpus, "las", "--att-beam", "4", "--lm", str(arpa), "--lm-weight", "0.5",
                  "--word-score", "1.0")
    assert proc.returncode == 0, proc.stderr
    fused = [line.split()[1:] for line in open(root / "exp/las/dec/text")]
    assert all(w in kept for words in fused for w in words), (gone, fused)
    assert sum(map(len, fused)) > 0
    proc = decode(root, corpus, "las", "--lm", str(root / "nope.arpa"))
    assert proc.returncode == 1 and "nope.arpa" in proc.stderr


def test_ctc_weight_out_of_range_is_refused(tmp_path):
    from s2s.tasks.asr import AsrTask

    corpus = make_toy_corpus(tmp_path, n_train=4, n_valid=2)
    with pytest.raises(S2SError, match="ctc_weight"):
        AsrTask({"token_list": str(corpus["lang"]), "train_data": str(corpus["train"]), "decoder": "rnn",
                 "ctc_weight": 1.0})
