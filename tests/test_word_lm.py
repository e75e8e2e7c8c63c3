"""Word-level language models (issue: OpenSeq2Seq's LM rows): the word vocabulary, the F-LSTM and
G-LSTM cells, WikiText-style stream pieces, evaluate_lm, and egs/mini_lm's data preparation."""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch

from s2s.errors import S2SError

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1")


def run(args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=ENV, capture_output=True, text=True)


# ---------------------------------------------------------------------------- vocabulary
def test_word_vocabulary_keeps_the_most_frequent_words_and_round_trips(tmp_path):
    from s2s.data.tokens import UNK, Vocabulary, build_vocabulary

    lines = ["the cat sat", "the dog sat", "the cat ran", "a bird <unk>"]
    v = build_vocabulary(lines, "word", vocab_size=4)  # three words + <unk>
    assert v.kind == "word" and v.tokens[5:] == ["the", "cat", "sat"]
    ids = v.encode("the cat ran <unk>")
    assert ids == [v.token_to_id("the"), v.token_to_id("cat"), v.unk_id, v.unk_id]
    assert v.unk_count == 1 and v.unk_symbols == Counter({"ran": 1})  # the corpus's own <unk> is not unknown
    assert v.decode(ids) == f"the cat {UNK} {UNK}" and v.decode(ids, unk="") == "the cat"
    assert v.spell("cat") == ["cat"] and v.spell("ran") is None and v.starts_word(5)
    v.save(tmp_path / "lang")
    again = Vocabulary.load(tmp_path / "lang")
    assert again.tokens == v.tokens and again.kind == "word" and not (tmp_path / "lang/bpe.model").exists()
    assert build_vocabulary(lines, "word").tokens[5:] == ["the", "cat", "sat", "dog", "ran", "a", "bird"]
    with pytest.raises(S2SError, match="no room for words"):
        build_vocabulary(lines, "word", vocab_size=1)
    with pytest.raises(S2SError, match="whitespace"):
        Vocabulary(["<blank>", "<pad>", "<s>", "</s>", "<unk>", "two words"], kind="word")


# ---------------------------------------------------------------------------- cells
def lm(cell: str, **kw):
    from s2s.models.lm import build_lm

    torch.manual_seed(0)
    conf = {"embed_dim": 24, "hidden": 24, "num_layers": 2, "dropout": 0.0, "cell": cell, **kw}
    return build_lm("lstm", conf, vocab_size=40).eval()


@pytest.mark.parametrize("cell,kw", [("lstm", {}), ("flstm", {"rank": 8}), ("glstm", {"groups": 4})])
def test_every_cell_steps_as_it_runs_and_is_causal(cell, kw):
    model = lm(cell, **kw)
    x = torch.randint(5, 40, (3, 9))
    with torch.no_grad():
        full = model(x)
        state, steps = model.init_state(3), []
        for t in range(9):
            logits, state = model.step(x[:, t], state)
            steps.append(logits)
        y = x.clone()
        y[:, 5:] = torch.randint(5, 40, (3, 4))
        other = model(y)
    assert torch.allclose(torch.stack(steps, 1), full, atol=1e-5)
    assert torch.allclose(full[:, :5], other[:, :5], atol=1e-6) and not torch.allclose(full[:, 5:], other[:, 5:])


def test_factorized_and_group_cells_have_the_published_parameter_counts():
    n, p, r, k = 24, 24, 8, 4
    lstm = sum(t.numel() for t in lm("lstm").rnn.parameters())
    flstm = sum(t.numel() for t in lm("flstm", rank=r).rnn.parameters())
    glstm = sum(t.numel() for t in lm("glstm", groups=k).rnn.parameters())
    assert lstm == 2 * (4 * n * (p + n) + 8 * n)  # nn.LSTM: two bias vectors
    assert flstm == 2 * (r * (p + n) + 4 * n * r + 4 * n)  # W ~ W2 (4n x r) W1 (r x (p+n))
    assert glstm == 2 * k * (4 * (n // k) * (p // k + n // k) + 8 * (n // k))  # k independent LSTMs
    with pytest.raises(S2SError, match="rank"):
        lm("flstm")
    with pytest.raises(S2SError, match="must divide"):
        lm("glstm", groups=5)


# ---------------------------------------------------------------------------- stream pieces
def test_stream_pieces_predict_every_token_once_and_move_their_cuts_in_training(tmp_path):
    from s2s.data.tokens import build_vocabulary
    from s2s.tasks.lm import LmStream

    lines = [" ".join(f"w{(i * 7 + j) % 13}" for j in range(3 + i % 5)) for i in range(40)]
    (tmp_path / "c.txt").write_text("\n".join(lines) + "\n")
    v = build_vocabulary(lines, "word")
    stream = [t for s in lines for t in v.encode(s) + [v.eos_id]]
    ev = LmStream([str(tmp_path / "c.txt")], v, bptt=10)
    assert ev.num_tokens == len(stream) and sum(ev.lengths) == len(stream) - 1
    assert torch.equal(torch.cat([ev[i][1:] for i in range(len(ev))]), torch.tensor(stream[1:]))
    tr = LmStream([str(tmp_path / "c.txt")], v, bptt=10, random_start=True, seed=3)
    n, offsets = len(tr), set()
    for epoch in range(8):
        tr.set_epoch(epoch)
        assert len(tr) == n and all(len(tr[i]) == 11 for i in range(n))
        assert tr[0].tolist() == stream[tr.offset: tr.offset + 11]
        offsets.add(tr.offset)
    assert len(offsets) > 2


# ---------------------------------------------------------------------------- end to end
def grammar(root: Path) -> tuple[list[str], list[str]]:
    subjects, verbs, objects = ["the cat", "a dog", "my bird", "his fish"], ["sees", "likes", "hears"], \
        ["the ball", "a mouse", "her toy", "that box"]
    combos = [" ".join(c) for c in itertools.product(subjects, verbs, objects)]
    random.Random(0).shuffle(combos)
    dev, train = combos[:8], combos[8:]
    for name, sents in (("train", train), ("dev", dev)):
        (root / name).mkdir()
        (root / name / "text").write_text("".join(f"u{i:03d} {s}\n" for i, s in enumerate(sents)))
    return train, dev


def test_a_word_lm_trains_on_a_stream_and_evaluate_lm_reports_per_word_perplexity(tmp_path):
    import yaml

    train, dev = grammar(tmp_path)
    p = run(["s2s.bin.prepare_tokens", "--text", "train/text", "--out", "lang", "--kind", "word",
             "--no-transcript-checks"], tmp_path)
    assert p.returncode == 0, p.stderr
    conf = {"task": "lm", "bptt": 12, "lm": "lstm", "token_list": "lang", "train_data": "train", "valid_data": "dev",
            "lm_conf": {"cell": "flstm", "rank": 16, "embed_dim": 32, "hidden": 32, "num_layers": 1, "dropout": 0.0},
            "optim": "adam", "optim_conf": {"lr": 0.02}, "batch_frames": 96, "max_epochs": 12, "seed": 1,
            "log_every_steps": 5}
    (tmp_path / "lm.yaml").write_text(yaml.safe_dump(conf))
    p = run(["s2s.bin.train", "--config", "lm.yaml", "--exp-dir", "exp/lm"], tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    p = run(["s2s.bin.evaluate_lm", "exp/lm/checkpoints/last.pt", "dev", "--out", "exp/lm/ppl.json"], tmp_path)
    assert p.returncode == 0, p.stderr
    res = json.loads((tmp_path / "exp/lm/ppl.json").read_text())
    assert p.stdout.startswith(f"ppl={res['ppl']:.2f}")
    words = sum(len(s.split()) + 1 for s in dev)
    assert res["bptt"] == 12 and res["tokens"] == words - 1 and res["unk_share"] == 0
    # a unigram of the training words (</s> included) is what an LM must beat
    counts = Counter(w for s in train for w in s.split() + ["</s>"])
    total = sum(counts.values())
    unigram = math.exp(-sum(math.log(counts[w] / total) for s in dev for w in s.split() + ["</s>"]) / words)
    assert res["ppl"] < 0.6 * unigram, (res, unigram)
    # sentence by sentence (bptt 0) is another reading of the same text: every word but <s> predicted
    p = run(["s2s.bin.evaluate_lm", "exp/lm/checkpoints/last.pt", "dev", "--bptt", "0"], tmp_path)
    assert p.returncode == 0 and f"tokens={words}" in p.stdout, p.stdout + p.stderr

    (tmp_path / "bad.txt").write_bytes(b"the cat sees\nthe \xff dog\n")
    p = run(["s2s.bin.evaluate_lm", "exp/lm/checkpoints/last.pt", "bad.txt"], tmp_path)
    assert p.returncode == 1 and "bad.txt:2: not valid UTF-8" in p.stderr, p.stderr
    p = run(["s2s.bin.evaluate_lm", "exp/lm/checkpoints/last.pt", "dev", "--out", "exp"], tmp_path)
    assert p.returncode == 1 and p.stderr.startswith("evaluate_lm: error:") and "Traceback" not in p.stderr


# ---------------------------------------------------------------------------- egs/mini_lm data
def test_mini_lm_data_is_definitions_only_with_rare_words_unknown(tmp_path):
    wn = tmp_path / "wordnet"
    wn.mkdir()
    header = "  1 This software and database is being provided to you, the LICENSEE, by\n"
    glosses = [f'0000{i} 03 n 01 w{i} 0 000 | a small {"red" if i % 2 else "blue"} box of the kind '
               f'{"zebra" if i == 3 else "cat"}; used for storage; "she kept it in a box"  \n' for i in range(30)]
    (wn / "data.noun").write_text(header + "".join(glosses))
    for part in ("verb", "adj", "adv"):
        (wn / f"data.{part}").write_text(header + "00001 00 v 01 go 0 000 | move or proceed ( to a place )  \n")
    p = subprocess.run([sys.executable, "local/prepare_data.py", "--wordnet", str(wn), "--out", str(tmp_path / "data"),
                        "--dev", "1", "--test", "1", "--min-count", "2"], cwd=ROOT / "egs/mini_lm",
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    lines = {s: (tmp_path / "data" / s / "text").read_text().splitlines() for s in ("train", "dev", "test")}
    # four distinct definitions (red/blue box of cats, a red box of zebras, "go" in three files)
    assert len(lines["dev"]) == len(lines["test"]) == 1 and len(lines["train"]) == 2
    text = " ".join(" ".join(v) for v in lines.values())
    assert "she kept" not in text and "licensee" not in text  # no examples, no licence
    tokens = re.compile(r"[a-z0-9]+(?:['.-][a-z0-9]+)*|[^\sa-z0-9]|<unk>")
    assert all(tokens.fullmatch(w) for w in text.split() if not w.startswith("wn_")), text  # lower-cased tokens
    assert "zebra" not in text
    stats = json.loads((tmp_path / "data/stats.json").read_text())
    assert stats["train"]["lines"] == 2 and stats["train"]["unk"] == text.split().count("<unk>") - sum(
        v[0].split().count("<unk>") for k, v in lines.items() if k != "train")
    (wn / "data.adv").write_text("00002 00 r 01 fast 0 000 no gloss here\n")
    p = subprocess.run([sys.executable, "local/prepare_data.py", "--wordnet", str(wn), "--out", str(tmp_path / "d2")],
                       cwd=ROOT / "egs/mini_lm", capture_output=True, text=True)
    assert p.returncode != 0 and "data.adv:1" in p.stderr
