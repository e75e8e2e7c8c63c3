"""Vocoders (task vocoder): the WaveNet's cached generation against its teacher-forced pass, the
training segments against the front end, the iSTFT vocoder's shapes and training, loading a
vocoder for a TTS model, and the errors for bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F
import yaml

from s2s.data.datadir import write_table
from s2s.errors import S2SError
from s2s.models.istft_vocoder import IstftVocoder
from s2s.models.wavenet import WaveNet, mulaw_decode, mulaw_encode

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = {"type": "logmel", "sample_rate": 8000, "num_mel_bins": 20, "window_size": 0.032,
            "window_stride": 0.008, "n_fft": 256, "preemphasis": 0.0, "log_guard": 1e-5}


def test_mulaw_round_trip_is_within_one_step():
    x = torch.linspace(-1, 1, 1001)
    q = mulaw_encode(x)
    assert int(q.min()) == 0 and int(q.max()) == 255
    y = mulaw_decode(q.float())
    # mu-law steps are finest near zero: 1/255 of the log range
    assert float((y - x).abs().max()) < 0.03
    assert float((y - x)[x.abs() < 0.01].abs().max()) < 1e-3
    assert np.allclose(mulaw_decode(q.numpy().astype(np.float32)), y.numpy(), atol=1e-6)


@pytest.mark.parametrize("kernel", [2, 3])
def test_wavenet_cached_generation_equals_the_teacher_forced_network(kernel):
    # Generation draws from the softmax; at a temperature near zero it takes the arg max, which
    # the teacher-forced pass over the generated samples must reproduce at every position.
    torch.manual_seed(0)
    model = WaveNet(n_mels=20, hop=10, layers=6, cycle=3, kernel=kernel, channels=16, skip_channels=24,
                    cond_channels=8).eval()
    for p in model.parameters():
        p.data.normal_(0, 0.3)
    mels = [torch.randn(12, 20), torch.randn(7, 20)]  # generated together, different lengths
    wavs = model.generate(mels, temperature=1e-8)
    assert [len(w) for w in wavs] == [120, 70]
    for mel, wav in zip(mels, wavs):
        q = mulaw_encode(torch.from_numpy(wav))
        with torch.no_grad():
            logits = model(F.pad(q, (1, 0), value=128)[:-1][None], mel[None])[0]
        assert torch.equal(logits.argmax(0), q)
    # sampling follows the seed
    a, b, c = (model.generate(mels[:1], seed=s)[0] for s in (5, 5, 6))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_wavenet_receptive_field_and_after_training_weights_are_repacked():
    model = WaveNet(n_mels=4, hop=4, layers=4, cycle=2, kernel=3, channels=8, skip_channels=8, cond_channels=4)
    assert model.receptive_field == 1 + 2 * (1 + 2 + 1 + 2)
    mel = [torch.zeros(3, 4)]
    before = model.generate(mel, temperature=1e-8)[0]
    with torch.no_grad():
        model.out2.bias.add_(torch.arange(256.0))  # in place, as an optimizer step: the argmax moves to 255
    after = model.generate(mel, temperature=1e-8)[0]
    assert not np.array_equal(before, after) and np.allclose(after, mulaw_decode(np.float32(255)))


def test_istft_vocoder_gives_hop_samples_per_frame_and_learns_a_tone():
    torch.manual_seed(0)
    model = IstftVocoder(n_mels=20, hop=64, n_fft=256, dim=32, blocks=2)
    mel = torch.randn(2, 10, 20)
    assert model(mel).shape == (2, 640)
    assert [len(w) for w in model.generate([mel[0], mel[1, :4]])] == [640, 256]
    # A few steps on one tone with the multi-resolution STFT loss bring its spectrum closer.
    from s2s.tasks.vocoder import multi_resolution_stft_loss

    t = torch.arange(640) / 8000
    target = (0.5 * torch.sin(2 * np.pi * 440 * t))[None]
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    res = [[128, 32, 128], [256, 64, 256]]
    losses = []
    for _ in range(60):
        sc, mag = multi_resolution_stft_loss(model(mel[:1]), target, res)
        loss = (sc + mag).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.75 * losses[0]


# ------------------------------------------------------------------ task vocoder

def _corpus(root: Path, n: int = 4) -> Path:
    """A data dir of n chirps of 0.4-0.7 s at 8 kHz (no engine needed for a vocoder)."""
    d, wav_dir = root / "data", root / "wav"
    wav_dir.mkdir(parents=True)
    rows = {}
    for i in range(n):
        sr = FRONTEND["sample_rate"]
        t = np.arange(int((0.4 + 0.1 * i) * sr)) / sr
        wav = (0.4 * np.sin(2 * np.pi * (150 + 100 * i + 300 * t) * t)).astype(np.float32)
        sf.write(wav_dir / f"u{i}.wav", wav, sr)
        rows[f"u{i}"] = str(wav_dir / f"u{i}.wav")
    write_table(d / "wav.scp", rows)
    write_table(d / "utt2spk", {u: "s" for u in rows})
    return d


def test_training_segments_are_the_audio_under_their_mel_frames(tmp_path):
    from s2s.data.features import build_frontend
    from s2s.data.sources import FeatureSource
    from s2s.tasks.vocoder import VocoderDataset

    d = _corpus(tmp_path)
    fe = build_frontend(FRONTEND)
    ds = VocoderDataset([str(d)], FeatureSource(fe), segment_frames=16, seed=1, random_offsets=True)
    starts = set()
    for epoch in (0, 1, 2):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            item = ds[i]
            assert item["wav"].shape == (16 * fe.hop,) and item["mel"].shape == (16, 20)
            full, _ = sf.read(d.parent / "wav" / f"{item['id']}.wav", dtype="float32")
            mel = fe.extract(full, 8000)
            # find where the segment came from, and check its mel frames are the utterance's
            start = next(s for s in range(mel.shape[0]) if torch.equal(mel[s:s + 16], item["mel"][:len(mel[s:s + 16])]))
            assert np.array_equal(item["wav"].numpy()[: len(full) - start * fe.hop], full[start * fe.hop:][:16 * fe.hop])
            starts.add((item["id"], start))
    assert len(starts) > len(ds)  # offsets change with the epoch
    ds.set_epoch(1)
    again = ds[0]
    assert torch.equal(again["wav"], ds[0]["wav"])  # and are reproducible


def _train(root: Path, data: Path, vocoder: str, model_conf: dict, *over: str, check: bool = True):
    conf = {"task": "vocoder", "vocoder": vocoder, "train_data": str(data), "valid_data": str(data),
            "frontend_conf": FRONTEND, "model_conf": model_conf, "segment_frames": 16, "batch_frames": 64,
            "optim": "adam", "optim_conf": {"lr": 0.003}, "max_epochs": 6, "log_every_steps": 2,
            "keep_checkpoints": 1, "valid_generate": 1, "stft_resolutions": [[128, 32, 128], [256, 64, 256]]}
    cfg = root / f"{vocoder}.yaml"
    cfg.write_text(yaml.safe_dump(conf))
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1")
    proc = subprocess.run([sys.executable, "-m", "s2s.bin.train", "--config", str(cfg), "--exp-dir",
                           str(root / f"exp_{vocoder}"), *over], cwd=root, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"training failed:\n{proc.stdout}\n{proc.stderr[-3000:]}")
    return proc


def _validations(log: str) -> list[dict[str, float]]:
    out = []
    for line in log.splitlines():
        if "validation:" in line:
            fields = line.split("validation:")[1].split()
            out.append({k: float(v) for k, v in zip(fields[::2], fields[1::2])})
    return out


def test_both_vocoders_train_and_load_for_a_tts_model_of_the_same_front_end(tmp_path):
    from s2s.synth.vocoders import load_vocoder

    d = _corpus(tmp_path)
    _train(tmp_path, d, "istft_vocoder", {"n_fft": 256, "dim": 32, "blocks": 2})
    _train(tmp_path, d, "wavenet", {"layers": 4, "cycle": 2, "channels": 16, "skip_channels": 16,
                                    "cond_channels": 8}, "--max_epochs", "3")
    for name in ("istft_vocoder", "wavenet"):
        vals = _validations((tmp_path / f"exp_{name}/train.log").read_text())
        assert vals[-1]["loss"] < vals[0]["loss"], (name, vals)
        assert "mel_l1" in vals[-1]
        voc = load_vocoder(str(tmp_path / f"exp_{name}/checkpoints/last.pt"), FRONTEND)
        assert voc.name == name and voc.sample_rate == 8000
        wavs = voc.generate([torch.zeros(5, 20), torch.zeros(3, 20)])
        assert [len(w) for w in wavs] == [5 * 64, 3 * 64] and all(w.dtype == np.float32 for w in wavs)
        # a TTS model predicting another log-mel cannot use it
        with pytest.raises(S2SError, match="num_mel_bins: 20 vs 40"):
            load_vocoder(str(tmp_path / f"exp_{name}/checkpoints/last.pt"), {**FRONTEND, "num_mel_bins": 40})


def test_bad_vocoder_configs_and_paths_are_named(tmp_path):
    from s2s.synth.vocoders import load_vocoder

    d = _corpus(tmp_path, n=1)
    proc = _train(tmp_path, d, "hifigan", {}, check=False)
    assert proc.returncode == 1 and "'hifigan' is not a vocoder" in proc.stderr
    proc = _train(tmp_path, d, "wavenet", {}, "--frontend_conf.type", "fbank", check=False)
    assert proc.returncode == 1 and "logmel" in proc.stderr
    with pytest.raises(S2SError, match="neither 'griffin-lim' nor a vocoder checkpoint"):
        load_vocoder(str(tmp_path / "nope.pt"), FRONTEND)
