"""Neural LMs (task ``lm``): learning a small grammar with the shared trainer, causality,
padding invariance, self-contained checkpoints, config and data errors."""

from __future__ import annotations

import itertools
import math
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch

from s2s.errors import S2SError

ROOT = Path(__file__).resolve().parents[1]

SUBJECTS = ["the cat", "a dog", "my bird", "his fish", "our cow"]
VERBS = ["sees", "likes", "chases", "hears"]
OBJECTS = ["the ball", "a mouse", "her toy", "some corn", "that box"]


def grammar_corpus(root: Path) -> dict:
    """A subject-verb-object grammar; dev sentences are combinations never seen in training."""
    from s2s.data.tokens import build_vocabulary

    combos = [" ".join(c) for c in itertools.product(SUBJECTS, VERBS, OBJECTS)]
    random.Random(0).shuffle(combos)
    dev, train = combos[:20], combos[20:]
    for name, sents in (("train", train), ("dev", dev)):
        d = root / "data" / name
        d.mkdir(parents=True)
        with open(d / "text", "w") as f:
            for i, s in enumerate(sents):
                f.write(f"utt{i:03d} {s}\n")
    lang = root / "data" / "lang"
    build_vocabulary(train, "char").save(lang)
    return {"train": root / "data/train", "dev": root / "data/dev", "lang": lang, "train_sents": train,
            "dev_sents": dev}


def unigram_ppl(corpus: dict) -> float:
    """Perplexity on dev of an add-one unigram over the training tokens (sentence end included)."""
    from s2s.data.tokens import Vocabulary

    tok = Vocabulary.load(corpus["lang"])
    counts = Counter(t for s in corpus["train_sents"] for t in tok.encode_sentence(s)[1:])
    total = sum(counts.values()) + len(tok)
    nll, n = 0.0, 0
    for s in corpus["dev_sents"]:
        for t in tok.encode_sentence(s)[1:]:
            nll -= math.log((counts[t] + 1) / total)
            n += 1
    return math.exp(nll / n)


def write_config(root: Path, corpus: dict, lm: str, lm_conf: dict, **over) -> Path:
    import yaml

    conf = {"task": "lm", "train_data": str(corpus["train"]), "valid_data": str(corpus["dev"]),
            "token_list": str(corpus["lang"]), "lm": lm, "lm_conf": lm_conf, "optim": "adam",
            "optim_conf": {"lr": 0.01}, "batch_frames": 400, "max_epochs": 10, "seed": 1, "log_every_steps": 5}
    conf.update(over)
    path = root / f"{lm}.yaml"
    path.write_text(yaml.safe_dump(conf))
    return path


def run_train(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1")
    return subprocess.run([sys.executable, "-m", "s2s.bin.train", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)


def validation_ppl(exp: Path) -> list[float]:
    log = (exp / "train.log").read_text()
    return [float(line.split("ppl ")[1].split()[0]) for line in log.splitlines() if "validation:" in line]


@pytest.mark.parametrize("lm,lm_conf", [
    ("transformer", {"d_model": 32, "num_heads": 2, "num_layers": 2, "ff_dim": 64, "dropout": 0.0}),
    ("lstm", {"embed_dim": 32, "hidden": 48, "num_layers": 1, "dropout": 0.0}),
])
def test_lm_trained_by_the_trainer_beats_a_unigram_on_unseen_sentences(tmp_path, lm, lm_conf):
    corpus = grammar_corpus(tmp_path)
    cfg = write_config(tmp_path, corpus, lm, lm_conf)
    proc = run_train(tmp_path, "--config", str(cfg), "--exp-dir", "exp/lm")
    assert proc.returncode == 0, proc.stderr[-3000:]
    ppl = validation_ppl(tmp_path / "exp/lm")
    assert len(ppl) == 10
    baseline = unigram_ppl(corpus)
    assert ppl[-1] < 0.5 * baseline, (ppl, baseline)
    assert ppl[-1] < ppl[0]

    # the checkpoint alone (vocabulary embedded) rebuilds a scorer that prefers grammar to a scramble
    from s2s.decode.rescore import NeuralLmScorer

    scorer = NeuralLmScorer.from_checkpoint(tmp_path / "exp/lm/checkpoints/last.pt")
    good, scrambled = corpus["dev_sents"][0], " ".join(reversed(corpus["dev_sents"][0].split()))
    s_good, s_bad = scorer.score([good, scrambled])
    assert s_good > s_bad + 5.0


def _model(name: str):
    from s2s.models.lm import build_lm

    torch.manual_seed(0)
    conf = {"transformer": {"d_model": 16, "num_heads": 2, "num_layers": 2, "ff_dim": 32, "dropout": 0.0},
            "lstm": {"embed_dim": 16, "hidden": 24, "num_layers": 2, "dropout": 0.0}}[name]
    return build_lm(name, conf, vocab_size=11).eval()


@pytest.mark.parametrize("name", ["transformer", "lstm"])
def test_future_tokens_do_not_change_earlier_outputs(name):
    model = _model(name)
    x = torch.randint(0, 11, (2, 12))
    y = x.clone()
    y[:, 7:] = torch.randint(0, 11, (2, 5))
    with torch.no_grad():
        a, b = model(x), model(y)
    assert torch.allclose(a[:, :7], b[:, :7], atol=1e-5)
    assert not torch.allclose(a[:, 7:], b[:, 7:], atol=1e-3)


@pytest.mark.parametrize("name", ["transformer", "lstm"])
def test_right_padded_batch_scores_like_each_sentence_alone(name):
    from s2s.models.lm import pad_sentences, sequence_nll

    model = _model(name)
    seqs = [torch.tensor([0, 3, 4, 5, 6, 7, 0]), torch.tensor([0, 8, 0]), torch.tensor([0, 2, 9, 9, 0])]
    batch = pad_sentences(seqs, pad_id=1)
    with torch.no_grad():
        together = sequence_nll(model, batch["inputs"], batch["targets"], batch["mask"])
        alone = [sequence_nll(model, **{k: v for k, v in pad_sentences([s], 1).items() if k != "num_tokens"})
                 for s in seqs]
    assert torch.allclose(together, torch.cat(alone), atol=1e-5)


@pytest.mark.parametrize("name,positions", [("transformer", "sinusoidal"), ("transformer", "learned"),
                                            ("lstm", None)])
def test_one_token_at_a_time_equals_the_full_pass(name, positions):
    """step() over a prefix, token by token, gives forward()'s logits at every position, also
    after the rows are reordered (as a beam search does) halfway."""
    from s2s.models.lm import build_lm
    from s2s.models.seq2seq import reorder_state

    torch.manual_seed(0)
    conf = {"transformer": {"d_model": 16, "num_heads": 2, "num_layers": 2, "ff_dim": 32, "dropout": 0.1,
                            "positions": positions, "max_len": 9},
            "lstm": {"embed_dim": 16, "hidden": 24, "num_layers": 2, "dropout": 0.1}}[name]
    model = build_lm(name, conf, vocab_size=11).eval()
    x = torch.randint(0, 11, (3, 9))
    order = torch.tensor([2, 2, 0])
    with torch.no_grad():
        full = model(x)
        state = model.init_state(3)
        for t in range(9):
            if t == 5:
                x, full = x[order], full[order]
                state = reorder_state(state, order)
            logits, state = model.step(x[:, t], state)
            assert torch.allclose(logits, full[:, t], atol=1e-5), t
        if name == "transformer":
            with pytest.raises(S2SError, match="max_len 9"):
                model.step(x[:, 0], state)


def test_tied_embeddings_share_the_output_matrix():
    from s2s.models.lm import build_lm

    tied = build_lm("transformer", {"d_model": 16, "num_heads": 2, "num_layers": 1, "ff_dim": 16}, vocab_size=50)
    untied = build_lm("transformer", {"d_model": 16, "num_heads": 2, "num_layers": 1, "ff_dim": 16,
                                      "tie_embeddings": False}, vocab_size=50)
    assert tied.out.weight is tied.embed.weight
    assert sum(p.numel() for p in untied.parameters()) - sum(p.numel() for p in tied.parameters()) == 50 * 16
    lstm = build_lm("lstm", {"embed_dim": 8, "hidden": 12}, vocab_size=20)
    assert lstm.out.weight is lstm.embed.weight


def test_unknown_lm_conf_key_names_the_key():
    from s2s.models.lm import build_lm

    with pytest.raises(S2SError, match="unknown key 'hiddden'.*allowed keys"):
        build_lm("lstm", {"hiddden": 8}, vocab_size=10)
    with pytest.raises(S2SError, match="unknown lm 'gpt'"):
        build_lm("gpt", {}, vocab_size=10)


def test_missing_training_text_is_a_clear_error(tmp_path):
    corpus = grammar_corpus(tmp_path)
    cfg = write_config(tmp_path, corpus, "lstm", {"embed_dim": 8, "hidden": 8},
                       train_data=str(tmp_path / "data/nowhere.txt"))
    proc = run_train(tmp_path, "--config", str(cfg), "--exp-dir", "exp/x")
    assert proc.returncode == 1
    assert "nowhere.txt: LM text not found" in proc.stderr


def test_plain_text_and_kaldi_text_read_the_same_sentences(tmp_path):
    from s2s.tasks.lm import read_sentences

    (tmp_path / "text").write_text("u1 the cat sees\nu2  a   dog\n")
    (tmp_path / "corpus.txt").write_text("the cat sees\n\na dog\n")
    assert read_sentences(tmp_path / "text") == read_sentences(tmp_path / "corpus.txt") == ["the cat sees", "a dog"]
    assert read_sentences(tmp_path) == ["the cat sees", "a dog"]  # a data dir: its text table
    (tmp_path / "bad.txt").write_bytes(b"fine\n\xff\xfe\n")
    with pytest.raises(S2SError, match=r"bad.txt:2: not valid UTF-8"):
        read_sentences(tmp_path / "bad.txt")
