"""N-best rescoring with a neural LM: the LM overturns the acoustic choice when it is decisive,
λ tuning lowers WER on a constructed dev set, score arithmetic, the entry point and its errors."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from s2s.decode.rescore import NbestEntry, best_texts, parse_grid, read_nbest, total_scores, tune
from s2s.errors import S2SError

ROOT = Path(__file__).resolve().parents[1]

ACTIONS = ["turn on", "turn off", "dim"]
THINGS = ["the light", "the fan", "the heater", "the radio"]
PLACES = ["in the kitchen", "in the hall", "upstairs"]


@pytest.fixture(scope="module")
def lm_ckpt(tmp_path_factory) -> Path:
    """A small character LSTM LM trained (task lm, in process) on home-automation commands."""
    from s2s.data.tokens import build_vocabulary
    from s2s.tasks.lm import LmTask
    from s2s.train.checkpoint import save_checkpoint

    root = tmp_path_factory.mktemp("lm")
    sents = [" ".join(c) for c in itertools.product(ACTIONS, THINGS, PLACES)]
    (root / "text").write_text("".join(f"u{i:03d} {s}\n" for i, s in enumerate(sents)))
    build_vocabulary(sents, "char").save(root / "lang")
    torch.manual_seed(0)
    task = LmTask({"token_list": str(root / "lang"), "train_data": str(root / "text"), "lm": "lstm",
                   "lm_conf": {"embed_dim": 24, "hidden": 48, "num_layers": 1, "dropout": 0.0}})
    data = task.dataset("train")
    batch = task.collate([data[i] for i in range(len(data))])
    model = task.build_model()
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        loss, n, _ = task.forward_loss(model, batch)
        opt.zero_grad()
        (loss / n).backward()
        opt.step()
    path = root / "model.pt"
    save_checkpoint(path, model.state_dict(), task.meta())
    return path


def entry(utt, rank, text, am, lm=-5.0, alpha=0.5, beta=1.0) -> NbestEntry:
    n = len(text.split())
    return NbestEntry(utt=utt, rank=rank, text=text, score=am + alpha * lm + beta * n, am_score=am,
                      lm_score=lm, num_words=n)


def write_jsonl(path: Path, entries: list[NbestEntry]) -> Path:
    with open(path, "w") as f:
        for h in entries:
            f.write(json.dumps({"utt": h.utt, "rank": h.rank, "text": h.text, "score": h.score,
                                "am_score": h.am_score, "lm_score": h.lm_score, "num_words": h.num_words}) + "\n")
    return path


def rescore_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "s2s.bin.rescore", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)


def test_a_decisive_neural_lm_overturns_the_acoustic_choice(lm_ckpt):
    from s2s.decode.rescore import NeuralLmScorer, add_nlm_scores

    # the acoustics prefer a misspelling the LM never saw; the n-gram is indifferent
    nbest = {"u1": [entry("u1", 1, "turn on the lite in the hall", am=-10.0),
                    entry("u1", 2, "turn on the light in the hall", am=-12.0)]}
    add_nlm_scores(nbest, NeuralLmScorer.from_checkpoint(lm_ckpt))
    wrong, right = nbest["u1"]
    assert right.nlm_score - wrong.nlm_score > 5.0  # the LM is decisive
    assert best_texts(nbest, lm_weight=0.0) == {"u1": "turn on the lite in the hall"}
    assert best_texts(nbest, lm_weight=1.0) == {"u1": "turn on the light in the hall"}


def test_recomputed_total_matches_the_decoder_score_with_its_own_alpha_beta():
    hyps = [entry("u", 1, "dim the fan", am=-3.0, lm=-4.0, alpha=0.7, beta=0.4),
            entry("u", 2, "dim the fan upstairs", am=-3.5, lm=-6.0, alpha=0.7, beta=0.4)]
    for h, nlm in zip(hyps, (-2.0, -9.0)):
        h.nlm_score = nlm
    combined = total_scores(hyps, lm_weight=0.3)
    recomputed = total_scores(hyps, lm_weight=0.3, ngram_weight=0.7, word_score=0.4)
    assert combined == pytest.approx(recomputed)
    assert combined[0] == pytest.approx(-3.0 + 0.7 * -4.0 + 0.3 * -2.0 + 0.4 * 3)
    # a length bonus rewards the longer hypothesis by exactly bonus * its extra words
    a, b = total_scores(hyps, 0.3, length_bonus=2.0)
    assert (b - a) - (combined[1] - combined[0]) == pytest.approx(2.0)
    with pytest.raises(S2SError, match="both"):
        total_scores(hyps, 0.3, ngram_weight=0.7)


def test_tuning_picks_a_weight_that_lowers_dev_wer(lm_ckpt):
    from s2s.decode.rescore import NeuralLmScorer, add_nlm_scores

    refs = {"a": "turn off the fan upstairs", "b": "dim the heater in the kitchen", "c": "turn on the radio in the hall",
            "d": "dim the light upstairs"}
    nbest = {
        # the acoustics are wrong in a and b (a non-word first), right in c and d
        "a": [entry("a", 1, "turn off the fam upstairs", -8.0), entry("a", 2, "turn off the fan upstairs", -8.5)],
        "b": [entry("b", 1, "dim the heeter in the kitchen", -9.0), entry("b", 2, "dim the heater in the kitchen", -9.4)],
        "c": [entry("c", 1, "turn on the radio in the hall", -7.0), entry("c", 2, "turn on the radio in the hull", -9.0)],
        "d": [entry("d", 1, "dim the light upstairs", -5.0), entry("d", 2, "dim the lights upstairs", -5.2)],
    }
    add_nlm_scores(nbest, NeuralLmScorer.from_checkpoint(lm_ckpt))
    res = tune(nbest, refs, parse_grid("0:1:0.1"))
    table = {lam: wer for lam, _, wer in res.table}
    assert table[0.0] == pytest.approx(100.0 * 2 / 22)  # the decoder's own choice: 2 errors in 22 words
    assert res.lm_weight > 0.0
    assert res.wer == 0.0 < table[0.0]


def test_tuning_keeps_weight_zero_when_the_lm_cannot_help():
    refs = {"a": "dim the fan"}
    nbest = {"a": [entry("a", 1, "dim the fan", -1.0), entry("a", 2, "dim a fan", -3.0)]}
    nbest["a"][0].nlm_score, nbest["a"][1].nlm_score = -20.0, -1.0  # an LM that is simply wrong
    res = tune(nbest, refs, parse_grid("0:2:0.5"))
    assert res.lm_weight == 0.0 and res.wer == 0.0


def test_cli_tunes_on_dev_then_rescores_test_with_the_best_weight(lm_ckpt, tmp_path):
    dev = write_jsonl(tmp_path / "dev.jsonl", [
        entry("a", 1, "turn off the fam upstairs", -8.0), entry("a", 2, "turn off the fan upstairs", -8.5),
        entry("b", 1, "dim the radio upstairs", -4.0), entry("b", 2, "dim the radi upstairs", -6.0)])
    (tmp_path / "dev_text").write_text("a turn off the fan upstairs\nb dim the radio upstairs\n")
    proc = rescore_cli("--nbest", str(dev), "--lm-model", str(lm_ckpt), "--out", "dev_rescore", "--tune",
                       "--ref", "dev_text", "--weights", "0:1:0.25", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "dev_rescore"
    assert (out / "text").read_text() == "a turn off the fan upstairs\nb dim the radio upstairs\n"
    best = dict(line.split() for line in (out / "best_weights").read_text().splitlines())
    assert float(best["lm_weight"]) > 0 and float(best["wer"]) == 0.0
    assert len((out / "tune.txt").read_text().splitlines()) == 2 + 5
    rows = [json.loads(x) for x in (out / "nbest.jsonl").read_text().splitlines()]
    assert all("nlm_score" in r and "total" in r for r in rows)

    test = write_jsonl(tmp_path / "test.jsonl", [entry("t", 1, "dim the heeter in the hall", -6.0),
                                                 entry("t", 2, "dim the heater in the hall", -6.3)])
    proc = rescore_cli("--nbest", str(test), "--lm", str(lm_ckpt), "--out", "test_rescore",
                       "--lm-weight", best["lm_weight"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "test_rescore/text").read_text() == "t dim the heater in the hall\n"


def test_missing_model_file_is_named(tmp_path):
    nb = write_jsonl(tmp_path / "nbest.jsonl", [entry("a", 1, "dim the fan", -1.0)])
    proc = rescore_cli("--nbest", str(nb), "--lm-model", "exp/lm/nothere.pt", "--out", "o", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith("s2s.bin.rescore: error: exp/lm/nothere.pt: checkpoint not found")
    assert not (tmp_path / "o/text").exists()


def test_a_bad_nbest_line_is_named(tmp_path, lm_ckpt):
    path = write_jsonl(tmp_path / "nbest.jsonl", [entry("a", 1, "dim the fan", -1.0)])
    with open(path, "a") as f:
        f.write('{"utt": "b", "rank": 1, "text": "dim"\n')
    proc = rescore_cli("--nbest", str(path), "--lm-model", str(lm_ckpt), "--out", "o", cwd=tmp_path)
    assert proc.returncode == 1
    assert f"{path}:2: not a JSON object" in proc.stderr
    path.write_text('{"utt": "a", "rank": 1, "text": "dim", "score": 1.0, "am_score": 1.0, "num_words": 1}\n')
    with pytest.raises(S2SError, match=r"nbest.jsonl:1: field 'lm_score' is missing"):
        read_nbest(path)


def test_tuning_without_references_for_every_utterance_fails():
    nbest = {"a": [entry("a", 1, "dim the fan", -1.0)], "b": [entry("b", 1, "dim", -1.0)]}
    with pytest.raises(S2SError, match="no reference for 1 n-best utterances.*'b'"):
        tune(nbest, {"a": "dim the fan"}, [0.0, 0.5], ref_name="data/dev/text")


def test_grid_specs():
    assert parse_grid("0:1:0.25") == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert parse_grid("0.1,0.3") == [0.1, 0.3]
    with pytest.raises(S2SError, match="--weights '1:0:0.1'"):
        parse_grid("1:0:0.1")
