"""Checkpoints are self-contained and versioned: one call loads a model; older files say how to re-create them."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from s2s.data.tokens import character_vocabulary
from s2s.errors import S2SError
from s2s.models.checkpoint import CHECKPOINT_FORMAT, load_model, save_checkpoint
from s2s.models.registry import build_model

ARGS = {"encoder": "quartznet", "encoder_conf": {"blocks": [{"filters": 8, "kernel": 5, "stride": 2}]},
        "input_dim": 20, "vocab_size": 0, "frontend": {"type": "fbank", "num_mel_bins": 20}, "cmvn": "global"}


def write_model(path, vocab):
    torch.manual_seed(0)
    args = {**ARGS, "vocab_size": len(vocab)}
    model = build_model("asr", args)
    model.frontend.normalizer.set_stats(torch.full((20,), 3.0), torch.full((20,), 2.0))
    meta = {"format": CHECKPOINT_FORMAT, "task": "asr", "model": model.spec, "vocab": vocab.to_dict()}
    save_checkpoint(path, model.state_dict(), meta)
    return model


def test_one_call_rebuilds_the_model_with_its_front_end_and_statistics(tmp_path):
    vocab = character_vocabulary("abc")
    original = write_model(tmp_path / "m.pt", vocab).eval()
    model, meta = load_model(tmp_path / "m.pt", task="asr")
    assert not model.training and meta["vocab"]["tokens"] == vocab.tokens
    assert torch.equal(model.frontend.normalizer.mean, torch.full((20,), 3.0))  # CMVN travels with the weights
    wav = torch.randn(1, 8000) * 0.1
    torch.testing.assert_close(model(wav, torch.tensor([8000]))[0], original(wav, torch.tensor([8000]))[0])


def test_a_model_of_another_task_is_refused(tmp_path):
    write_model(tmp_path / "m.pt", character_vocabulary("abc"))
    with pytest.raises(S2SError, match=r"m\.pt: a 'asr' model; this needs a 'lm' model"):
        load_model(tmp_path / "m.pt", task="lm")


def test_a_checkpoint_from_before_the_model_owned_its_front_end_says_how_to_recreate_it(tmp_path):
    old = {"task": "asr", "model_args": {"encoder": "ds2"}, "frontend_conf": {"type": "fbank"},
           "cmvn": {"mode": "global"}, "tokenizer": {"kind": "char", "tokens": ["<blank>", "<unk>"]}}
    save_checkpoint(tmp_path / "old.pt", {}, old)
    with pytest.raises(S2SError, match=r"old\.pt: written by an older s2s \(checkpoint format 1.*prepare_tokens.*retrain"):
        load_model(tmp_path / "old.pt")
    proc = subprocess.run([sys.executable, "-m", "s2s.bin.transcribe", str(tmp_path / "old.pt"), "x.wav"],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stderr.startswith("s2s-transcribe: error: ")
    assert "old.pt: written by an older s2s" in proc.stderr and "Traceback" not in proc.stderr


def test_a_file_that_is_not_a_checkpoint_is_named(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(S2SError, match=r"junk\.pt: cannot read checkpoint"):
        load_model(tmp_path / "junk.pt")
    torch.save({"weights": {}}, tmp_path / "other.pt")
    with pytest.raises(S2SError, match=r"other\.pt: not an s2s model checkpoint"):
        load_model(tmp_path / "other.pt")
