"""Task mt end to end on a tiny corpus: data checks, training, s2s-translate, BLEU scoring."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from s2s.data.tokens import prepare_lang
from s2s.errors import S2SError
from s2s.tasks.mt import ParallelDataset, read_parallel

ROOT = Path(__file__).resolve().parents[1]
WORDS = {"red": "rojo", "big": "grande", "house": "casa", "dog": "perro", "cat": "gato", "small": "chico",
         "green": "verde", "car": "coche", "the": "el", "sees": "ve"}


def run(*args, stdin: str | None = None, cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1")
    return subprocess.run([sys.executable, "-m", *args], input=stdin, capture_output=True, text=True, env=env,
                          cwd=cwd)


def write_dir(d: Path, pairs, prefix: str) -> None:
    d.mkdir(parents=True, exist_ok=True)
    with open(d / "text", "w") as f, open(d / "text.es", "w") as g:
        for i, (e, s) in enumerate(pairs):
            f.write(f"{prefix}{i:04d} {e}\n")
            g.write(f"{prefix}{i:04d} {s}\n")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A word-for-word 'translation' task over word tokens, learnt by a small Transformer in a few hundred steps."""
    root = tmp_path_factory.mktemp("mt")
    rng = random.Random(0)
    words = list(WORDS)

    def pair():
        e = [rng.choice(words) for _ in range(rng.randint(2, 5))]
        return " ".join(e), " ".join(WORDS[w] for w in e)

    write_dir(root / "data/train", [pair() for _ in range(2500)], "tr")
    write_dir(root / "data/dev", [pair() for _ in range(60)], "dv")
    prepare_lang([root / "data/train/text", root / "data/train/text.es"], root / "data/lang", "word")
    conf = {"task": "mt", "src_lang": "en", "tgt_lang": "es", "token_list": "data/lang",
            "train_data": "data/train", "valid_data": "data/dev",
            "encoder_conf": {"d_model": 64, "num_heads": 4, "num_layers": 2, "ff_dim": 128, "dropout": 0.0,
                             "max_len": 64},
            "decoder_conf": {"d_model": 64, "num_heads": 4, "num_layers": 2, "ff_dim": 128, "dropout": 0.0},
            "model_conf": {"share_embeddings": True, "dropout": 0.0}, "label_smoothing": 0.1,
            "optim": "adam", "optim_conf": {"lr": 0.003}, "scheduler": "cosine", "scheduler_conf": {"warmup_steps": 50},
            "max_epochs": 10, "batch_frames": 300, "log_every_steps": 1000}
    (root / "mt.yaml").write_text(yaml.safe_dump(conf))
    proc = run("s2s.bin.train", "--config", "mt.yaml", "--exp-dir", "exp/mt", cwd=root)
    assert proc.returncode == 0, proc.stderr
    return root


def test_translate_score_and_nbest(trained):
    model = trained / "exp/mt/checkpoints/last.pt"
    log = (trained / "exp/mt/train.log").read_text()
    assert "bleu" in log  # validation BLEU by greedy decoding
    proc = run("s2s.bin.translate", str(model), stdin="the red dog\n\nthe cat sees the dog\n")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split("\n")
    assert lines[:3] == ["el rojo perro", "", "el gato ve el perro"]
    out = trained / "hyp"
    proc = run("s2s.bin.translate", str(model), str(trained / "data/dev/text"), "--table", "--beam", "3",
               "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    proc = run("s2s.bin.score", "--task", "mt", "--ref", str(trained / "data/dev/text.es"), "--hyp", str(out),
               "--results", str(trained / "RESULTS.md"), "--tag", "tiny", "--set", "dev")
    assert proc.returncode == 0, proc.stderr
    assert "BLEU" in proc.stdout and "nrefs:1|case:mixed" in proc.stdout
    row = [r for r in (trained / "RESULTS.md").read_text().splitlines() if r.startswith("| tiny | dev |")][0]
    bleu = float(row.split("|")[3])
    assert bleu > 70
    # The figure in RESULTS.md is sacrebleu's own on the files written beside the hypotheses.
    sb = subprocess.run([sys.executable, "-m", "sacrebleu", str(trained / "ref.txt"), "-i", str(trained / "hyp.txt"),
                         "-m", "bleu", "-b", "-w", "2"], capture_output=True, text=True)
    assert sb.returncode == 0, sb.stderr
    assert float(sb.stdout.strip()) == pytest.approx(bleu, abs=0.006)
    proc = run("s2s.bin.translate", str(model), "--beam", "4", "--nbest", "3", stdin="the big dog\n")
    nbest = proc.stdout.strip().split("\n")
    assert len(nbest) == 3 and all(line.startswith("0 ||| ") for line in nbest)
    one = run("s2s.bin.translate", str(model), "--beam", "4", stdin="the big dog\n").stdout.strip()
    assert nbest[0].split(" ||| ")[1] == one == "el grande perro"
    assert len({line.split(" ||| ")[1] for line in nbest}) == 3
    scores = [float(line.split(" ||| ")[2]) for line in nbest]
    assert scores == sorted(scores, reverse=True)


def test_translate_with_a_target_language_model(trained):
    model = trained / "exp/mt/checkpoints/last.pt"
    # A Spanish unigram LM without "grande": fused with unknown words forbidden, the translation of
    # "the big dog" cannot contain it; with a finite --unk-score the model's own choice comes back.
    from corpora import word_list_arpa

    words = [w for w in WORDS.values() if w != "grande"]
    arpa = trained / "es.arpa"
    arpa.write_text(word_list_arpa(words))
    plain = run("s2s.bin.translate", str(model), "--beam", "4", stdin="the big dog\n").stdout.strip()
    assert plain == "el grande perro"
    proc = run("s2s.bin.translate", str(model), "--beam", "4", "--lm", str(arpa), "--lm-weight", "0.5",
               stdin="the big dog\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() and "grande" not in proc.stdout
    proc = run("s2s.bin.translate", str(model), "--beam", "4", "--lm", str(arpa), "--lm-weight", "0.1",
               "--unk-score", "-1", stdin="the big dog\n")
    assert proc.stdout.strip() == "el grande perro", proc.stderr
    proc = run("s2s.bin.translate", str(model), "--lm", str(trained / "missing.arpa"), stdin="the dog\n")
    assert proc.returncode == 1 and "missing.arpa" in proc.stderr and not proc.stdout


def test_translate_in_bfloat16_and_int8(trained):
    model = trained / "exp/mt/checkpoints/last.pt"
    dev = str(trained / "data/dev/text")
    outs = {}
    for dtype in ("float32", "bfloat16", "int8"):
        proc = run("s2s.bin.translate", str(model), dev, "--table", "--beam", "3", "--dtype", dtype)
        assert proc.returncode == 0, proc.stderr
        outs[dtype] = proc.stdout.splitlines()
    # bfloat16 keeps 8 bits of mantissa: this tiny character model (d 64) changes some outputs.
    same = sum(a == b for a, b in zip(outs["bfloat16"], outs["float32"])) / len(outs["float32"])
    print(f"bfloat16 = float32 on {same:.0%} of dev")
    assert len(outs["bfloat16"]) == len(outs["float32"]) == 60 and same >= 0.8
    # int8: dynamically quantized linear layers, about as close
    same = sum(a == b for a, b in zip(outs["int8"], outs["float32"])) / len(outs["float32"])
    print(f"int8 = float32 on {same:.0%} of dev")
    assert len(outs["int8"]) == 60 and same >= 0.8
    from s2s.decode.translate import Translator

    tr = Translator.load(model, dtype="bfloat16")
    assert next(tr.model.parameters()).dtype == torch.bfloat16
    tr = Translator.load(model, dtype="int8")
    quantized = [m for m in tr.model.modules() if type(m).__name__ == "Linear" and "quantized" in type(m).__module__]
    assert quantized and not any(type(m) is torch.nn.Linear for m in tr.model.modules())
    with pytest.raises(S2SError, match="--dtype 'float16'"):
        Translator.load(model, dtype="float16")


def test_long_sources_and_wrong_model_kinds(trained):
    model = trained / "exp/mt/checkpoints/last.pt"
    long_line = " ".join(["the big red house"] * 17) + "\n"  # > 64 tokens: the encoder's max_len
    proc = run("s2s.bin.translate", str(model), "--long", "error", stdin=long_line)
    assert proc.returncode == 1 and "<stdin>:1" in proc.stderr and "--long truncate" in proc.stderr
    proc = run("s2s.bin.translate", str(model), stdin=long_line)
    assert proc.returncode == 0 and "truncated" in proc.stderr and proc.stdout.strip()
    # An mt model is not a speech recognizer, and the reverse.
    proc = run("s2s.bin.transcribe", str(model), str(trained / "data/dev/text"))
    assert proc.returncode != 0 and "'mt' model" in proc.stderr and "'asr'" in proc.stderr
    (trained / "bad.txt").write_bytes(b"the cat\n\xff\xfe dog\n")
    proc = run("s2s.bin.translate", str(model), str(trained / "bad.txt"))
    assert proc.returncode == 1 and "bad.txt:2" in proc.stderr and "UTF-8" in proc.stderr
    out = trained / "never.txt"
    proc = run("s2s.bin.translate", str(model), str(trained / "bad.txt"), "--output", str(out))
    assert proc.returncode == 1 and not out.exists()


def test_parallel_data_errors(tmp_path):
    a, b = tmp_path / "a.en", tmp_path / "b.es"
    a.write_text("one\ntwo\nthree\n")
    b.write_text("uno\ndos\n")
    with pytest.raises(S2SError, match=r"a\.en has 3 lines but .*b\.es has 2"):
        read_parallel({"src": str(a), "tgt": str(b)}, "es")
    b.write_text("uno\n\ntres\n")
    with pytest.raises(S2SError, match=r"b\.es:2: empty sentence"):
        read_parallel({"src": str(a), "tgt": str(b)}, "es")
    b.write_bytes(b"uno\ndos\ntr\xe9s\n")
    with pytest.raises(S2SError, match=r"b\.es:3: not valid UTF-8"):
        read_parallel({"src": str(a), "tgt": str(b)}, "es")
    d = tmp_path / "d"
    d.mkdir()
    (d / "text").write_text("u1 one\nu2 two\n")
    (d / "text.es").write_text("u1 uno\nu3 dos\n")
    with pytest.raises(S2SError, match=r"text\.es:2: id 'u3' where .*text:2 has 'u2'"):
        read_parallel(str(d), "es")
    with pytest.raises(S2SError, match="text.de"):
        read_parallel(str(d), "de")
    b.write_text("uno\ndos\ntres\n")
    ids, src, tgt, _ = read_parallel({"src": str(a), "tgt": str(b)}, "es")
    assert src == ["one", "two", "three"] and tgt == ["uno", "dos", "tres"] and len(set(ids)) == 3


def test_dataset_lengths_and_long_pairs(tmp_path):
    d = tmp_path / "d"
    write_dir(d, [("the red dog", "el rojo perro"), ("the cat " * 20, "el gato " * 20)], "u")
    vocab = prepare_lang([d / "text", d / "text.es"], tmp_path / "lang", "char")
    ds = ParallelDataset([str(d)], vocab, "es", max_len=40)
    assert len(ds) == 1
    item = ds[0]
    assert item["src"][-1] == vocab.eos_id and vocab.decode(item["tgt"]) == "el rojo perro"
    assert ds.lengths == [max(len(item["src"]), len(item["tgt"]) + 1)]
