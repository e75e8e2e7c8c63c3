"""Sentiment by transfer from an LM: the LSTM classifier (each row's last state, the LM's parameter names),
the text_classify task taking the LM's sizes and vocabulary from init_from, egs/sentiment's tokenizer and
data errors, and the recipe end to end on a tiny IMDB (aclImdb_v1.tar.gz in its real layout) and a tiny
binary SST (the three CSVs) served from 127.0.0.1."""

from __future__ import annotations

import csv
import hashlib
import os
import random
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch
import yaml
from corpora import serve_directory

from s2s.errors import S2SError
from s2s.models.registry import build_model

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "egs/sentiment"
sys.path.insert(0, str(RECIPE / "local"))
from prepare_data import tokenize  # noqa: E402

GOOD = ["great", "wonderful", "loved", "brilliant", "superb"]
BAD = ["terrible", "awful", "boring", "hated", "dull"]
FILLER = ["the", "movie", "was", "and", "acting", "plot", "a", "film", "I", "it"]


def review(rng: random.Random, words: list[str]) -> str:
    out = [rng.choice(FILLER) for _ in range(rng.randint(6, 14))]
    for w in rng.sample(words, 2):
        out.insert(rng.randrange(len(out)), w)
    return "It's well-made, isn't it?<br /><br />" + " ".join(out).capitalize() + "."


# ---------------------------------------------------------------------------- model and task
@pytest.mark.parametrize("cell,extra", [("lstm", {}), ("flstm", {"rank": 8}), ("glstm", {"groups": 2})])
def test_classifier_reads_each_row_to_its_own_end(cell, extra):
    torch.manual_seed(0)
    m = build_model("text_classifier", {"lm_conf": {"cell": cell, "embed_dim": 16, "hidden": 16, "num_layers": 2,
                                                    **extra}, "vocab_size": 40, "num_classes": 3,
                                        "use_cell_state": True})
    m.eval()
    x = torch.randint(1, 40, (3, 9))
    lengths = torch.tensor([9, 5, 2])
    with torch.no_grad():
        batch = m(x, lengths)
        for i in range(3):
            alone = m(x[i:i + 1, :lengths[i]], lengths[i:i + 1])
            assert torch.allclose(batch[i], alone[0], atol=1e-5), (cell, i)
    assert batch.shape == (3, 3)
    names = {k.split(".")[0] for k in m.state_dict()}
    assert names == {"embed", "rnn", "head"}  # the LM's names, no LM output layer


def test_text_classify_takes_the_lm_sizes_and_vocabulary_from_init_from(tmp_path):
    from s2s.models.checkpoint import CHECKPOINT_FORMAT, save_checkpoint
    from s2s.tasks.text_classify import TextClassifyTask
    from s2s.train.init import init_from_checkpoint

    lm_conf = {"cell": "lstm", "embed_dim": 12, "hidden": 20, "num_layers": 2, "tie_embeddings": True}
    from s2s.data.tokens import Vocabulary

    vocab = Vocabulary.from_dict({"tokens": ["<blank>", "<pad>", "<s>", "</s>", "<unk>", "good", "bad"], "kind": "word"})
    lm = build_model("lm", {"lm": "lstm", "lm_conf": lm_conf, "vocab_size": len(vocab)})
    save_checkpoint(tmp_path / "lm.pt", lm.state_dict(), {
        "format": CHECKPOINT_FORMAT, "task": "lm", "model": lm.spec, "vocab": vocab.to_dict(), "bptt": 16})
    data = tmp_path / "train"
    data.mkdir()
    (data / "text").write_text("a good good\nb bad\n")
    (data / "utt2label").write_text("a pos\nb neg\n")
    conf = {**TextClassifyTask.defaults, "init_from": str(tmp_path / "lm.pt"), "train_data": str(data), "seed": 1}
    task = TextClassifyTask(conf)
    assert task.model_args()["lm_conf"] == lm_conf and task.labels == ["neg", "pos"]
    assert task.vocab.tokens == vocab.tokens
    ds = task.dataset("train")
    assert [t.tolist() for t in (ds[0]["tokens"], ds[1]["tokens"])] == [[5, 5, 3], [6, 3]]  # ... </s>
    model = task.build_model()
    report = init_from_checkpoint(model, tmp_path / "lm.pt", {}, list(task.vocab_layers), task.extra_meta())
    state, src = model.state_dict(), lm.state_dict()
    assert sorted(report["copied"]) == sorted(k for k in state if not k.startswith("head."))
    assert all(torch.equal(state[k], src[k]) for k in report["copied"])
    # a transformer LM cannot be the body
    t = build_model("lm", {"lm": "transformer", "lm_conf": {"d_model": 8, "num_heads": 2, "num_layers": 1,
                                                             "ff_dim": 8}, "vocab_size": 6})
    save_checkpoint(tmp_path / "tr.pt", t.state_dict(), {"format": CHECKPOINT_FORMAT, "task": "lm",
                                                          "model": t.spec, "vocab": vocab.to_dict()})
    with pytest.raises(S2SError, match="init_from: .*tr.pt: a 'transformer' model; text_classify starts from an LSTM"):
        TextClassifyTask({**conf, "init_from": str(tmp_path / "tr.pt")})
    with pytest.raises(S2SError, match="set token_list"):
        TextClassifyTask({**conf, "init_from": None})
    (data / "utt2label").write_text("a pos\n")
    with pytest.raises(S2SError, match=r"train/text:2: 'b' has no label in .*utt2label"):
        task.dataset("train")


# ---------------------------------------------------------------------------- data preparation
def test_tokenizer_splits_as_wikitext_does():
    assert tokenize("I didn't like it.<br /><br />The well-known actor's \"best\" film... (really!)") == [
        "I", "did", "n't", "like", "it", ".", "The", "well", "@-@", "known", "actor", "'s", '"', "best", '"',
        "film", "...", "(", "really", "!", ")"]


def prepare(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(RECIPE / "local/prepare_data.py"), *args], capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))


def write_sst(root: Path, rng: random.Random, n: int = 24) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, count in (("train", n), ("val", n // 3), ("test", n // 3)):
        with open(root / f"{name}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["sentence", "label"])
            for k in range(count):
                w.writerow([review(rng, GOOD if k % 2 else BAD).split("<br /><br />")[1], k % 2])


def test_sst_rows_without_a_label_or_text_are_named_by_line(tmp_path):
    src = tmp_path / "sst"
    write_sst(src, random.Random(0))
    ok = prepare("--dataset", "sst2", "--src", str(src), "--out", str(tmp_path / "data"))
    assert ok.returncode == 0, ok.stderr
    assert len((tmp_path / "data/train/text").read_text().splitlines()) == 24
    assert (tmp_path / "data/dev/utt2label").read_text().split()[1] in ("neg", "pos")
    lines = (src / "val.csv").read_text().splitlines()
    (src / "val.csv").write_text("\n".join(lines[:3] + ["a fine film,"] + lines[3:]) + "\n")
    p = prepare("--dataset", "sst2", "--src", str(src), "--out", str(tmp_path / "data"))
    assert p.returncode == 1 and "val.csv:4: label must be 0 or 1, got ''" in p.stderr
    (src / "val.csv").write_text("\n".join(lines[:3] + ["...,1"] + lines[3:]) + "\n")
    p = prepare("--dataset", "sst2", "--src", str(src), "--out", str(tmp_path / "data"))
    assert p.returncode == 0  # "..." is a token
    (src / "val.csv").write_text("\n".join(lines[:3] + ["  ,1"] + lines[3:]) + "\n")
    p = prepare("--dataset", "sst2", "--src", str(src), "--out", str(tmp_path / "data"))
    assert p.returncode == 1 and "val.csv:4: empty sentence" in p.stderr
    assert len((tmp_path / "data/train/text").read_text().splitlines()) == 24  # earlier output intact


# ---------------------------------------------------------------------------- the recipe
TINY_LM = {"task": "lm", "bptt": 16, "lm": "lstm", "lm_conf": {"cell": "lstm", "embed_dim": 16, "hidden": 24,
                                                              "num_layers": 1, "dropout": 0.0},
           "optim": "adam", "optim_conf": {"lr": 0.01}, "batch_frames": 256, "max_epochs": 2, "seed": 1}
TINY_CLS = {"task": "text_classify", "max_length": 48, "optim": "adam", "optim_conf": {"lr": 0.01},
            "batch_frames": 480, "max_batch_size": 10, "max_epochs": 8, "seed": 1, "log_every_steps": 5}


def make_imdb(root: Path) -> tuple[Path, str]:
    rng = random.Random(0)
    tree = root / "aclImdb"
    for split, n in (("train", 30), ("test", 10)):
        for label, words in (("pos", GOOD), ("neg", BAD)):
            d = tree / split / label
            d.mkdir(parents=True)
            for k in range(n):
                (d / f"{k}_{rng.randint(7, 10) if label == 'pos' else rng.randint(1, 4)}.txt").write_text(
                    review(rng, words))
    (tree / "train/unsup").mkdir()
    for k in range(20):
        (tree / f"train/unsup/{k}_0.txt").write_text(review(rng, rng.choice([GOOD, BAD])))
    (tree / "imdb.vocab").write_text("\n".join(GOOD + BAD + FILLER) + "\n")
    (tree / "README").write_text("Large Movie Review Dataset v1.0\n")
    mirror = root / "mirror"
    mirror.mkdir()
    with tarfile.open(mirror / "aclImdb_v1.tar.gz", "w:gz") as t:
        t.add(tree, "aclImdb")
    return mirror, hashlib.md5((mirror / "aclImdb_v1.tar.gz").read_bytes()).hexdigest()


def recipe_dir(root: Path) -> Path:
    work = root / "sentiment"
    (work / "conf").mkdir(parents=True)
    for name in ("run.sh", "cmd.sh", "path.sh", "local", "utils"):
        os.symlink(RECIPE / name, work / name)
    (work / "conf/lm.yaml").write_text(yaml.safe_dump(TINY_LM))
    (work / "conf/tiny.yaml").write_text(yaml.safe_dump(TINY_CLS))
    return work


def run(work: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1")
    p = subprocess.run(["./run.sh", *args], cwd=work, env=env, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"run.sh failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


@pytest.mark.e2e
def test_imdb_recipe_trains_an_lm_then_a_classifier_initialised_from_it(tmp_path):
    mirror, md5 = make_imdb(tmp_path)
    work = recipe_dir(tmp_path)
    with serve_directory(mirror) as server:
        bad = run(work, "--imdb-url", f"{server.url}/aclImdb_v1.tar.gz", "--stop-stage", "0", "--train-config",
                  "conf/tiny.yaml", check=False)
        assert bad.returncode != 0 and "md5" in (bad.stdout + bad.stderr).lower()
        run(work, "--imdb-url", f"{server.url}/aclImdb_v1.tar.gz", "--imdb-md5", md5, "--dev-reviews", "10",
            "--train-config", "conf/tiny.yaml", "--ngpu", "0", "--vocab-size", "100")
    data = work / "data"
    counts = {s: len((data / s / "text").read_text().splitlines()) for s in ("train", "dev", "test", "lm")}
    assert counts == {"train": 50, "dev": 10, "test": 20, "lm": 70}  # lm: train + unsup, never test
    first = (data / "train/text").read_text().splitlines()[0].split()
    assert "<br" not in " ".join(first) and "@-@" in first and "n't" in first
    log = (work / "exp/imdb_tiny/log/train.log").read_text()
    assert "init_from exp/lm/model.pt:" in log and "tensors copied" in log
    scores = yaml.safe_load((work / "exp/imdb_tiny/eval_test/scores.json").read_text())
    assert scores["n"] == 20 and scores["accuracy"] >= 80.0, scores  # the sentiment words decide
    assert (work / "exp/imdb_tiny/eval_test/confusion.png").is_file()
    results = (work / "RESULTS.md").read_text()
    assert "| imdb_tiny | exp/lm/model.pt | " in results and f"| {scores['accuracy']:.2f} |" in results
    assert "| Howard & Ruder 2018, ULMFiT | published |" in results


@pytest.mark.e2e
def test_sst_recipe_downloads_the_csvs_and_trains_from_scratch(tmp_path):
    mirror = tmp_path / "mirror"
    write_sst(mirror, random.Random(1), n=60)
    work = recipe_dir(tmp_path)
    with serve_directory(mirror) as server:
        run(work, "--dataset", "sst2", "--sst-url", server.url, "--lm-model", "none", "--train-config",
            "conf/tiny.yaml", "--ngpu", "0")
    assert not (work / "exp/lm").exists() and (work / "data/lang/tokens.txt").is_file()
    assert "init_from" not in (work / "exp/sst2_tiny/log/train.log").read_text()
    scores = yaml.safe_load((work / "exp/sst2_tiny/eval_test/scores.json").read_text())
    assert scores["n"] == 20 and scores["accuracy"] >= 70.0, scores
    assert "| sst2 | sst2_tiny | none | 60 / 20 / 20 |" in (work / "RESULTS.md").read_text()
    p = run(work, "--dataset", "sst3", check=False)
    assert p.returncode == 1 and "--dataset must be imdb or sst2" in p.stderr
