"""Tacotron 2 (task tts): shapes and padding, symbols, the diagonal score, training on a tiny
espeak-ng corpus until the attention is diagonal, synthesis through the tacotron2 backend,
mixed precision, and the errors for bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from s2s.data.text import text_to_ids as _text_to_ids
from s2s.data.text import tts_vocabulary
from s2s.errors import S2SError
from s2s.models.tacotron2 import Tacotron2
from s2s.models.tts import diagonal_score

VOCAB = tts_vocabulary()


def text_to_ids(text):
    return _text_to_ids(text, VOCAB)

ROOT = Path(__file__).resolve().parents[1]

SENTENCES = ["the cat sat on the mat", "a dog ran in the park", "she sells sea shells", "we like green tea",
             "open the red door", "turn on the light", "it is a sunny day", "birds fly over the hill",
             "the sun is hot", "put the book down", "call me back soon", "my bike is blue",
             "read a good story", "the fish can swim", "close the window now", "he has a big hat"]

FRONTEND = {"type": "logmel", "sample_rate": 16000, "num_mel_bins": 24, "window_size": 0.04,
            "window_stride": 0.016, "n_fft": 1024, "preemphasis": 0.0, "log_guard": 1e-5}
SMALL = {"reduction": 3, "embed_dim": 64, "encoder_channels": 64, "encoder_lstm_dim": 64, "speaker_dim": 16,
         "attention_rnn_dim": 128, "attention_dim": 64, "location_filters": 8, "location_kernel": 15,
         "prenet_dims": [64, 64], "decoder_rnn_dim": 128, "postnet_channels": 64, "postnet_layers": 3,
         "dropout": 0.1}


def make_corpus(root: Path, voices=("en-us",)) -> Path:
    """One data dir of espeak-ng speech (16 kHz): each sentence once, voices taken in turn."""
    wav_dir, d = root / "wav", root / "data" / "train"
    wav_dir.mkdir(parents=True, exist_ok=True)
    d.mkdir(parents=True, exist_ok=True)
    rows = {}
    for i, text in enumerate(SENTENCES):
        voice = voices[i % len(voices)]
        spk = "espeak" + voice.replace("-", "").replace("+", "")
        utt = f"{spk}-{i:03d}"
        raw, wav = wav_dir / f"{utt}.raw.wav", wav_dir / f"{utt}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "170", "-w", str(raw), text], check=True)
        subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True)
        raw.unlink()
        rows[utt] = (str(wav), text, spk)
    for name, col in (("wav.scp", 0), ("text", 1), ("utt2spk", 2)):
        with open(d / name, "w") as f:
            for utt in sorted(rows):
                f.write(f"{utt} {rows[utt][col]}\n")
    spk2utt: dict[str, list[str]] = {}
    for utt in sorted(rows):
        spk2utt.setdefault(rows[utt][2], []).append(utt)
    with open(d / "spk2utt", "w") as f:
        for spk in sorted(spk2utt):
            f.write(f"{spk} {' '.join(spk2utt[spk])}\n")
    return d


def train(root: Path, data: Path, *over: str, check: bool = True) -> subprocess.CompletedProcess:
    conf = {"task": "tts", "train_data": str(data), "valid_data": str(data), "frontend_conf": FRONTEND,
            "model_conf": SMALL, "optim": "adam", "optim_conf": {"lr": 0.003}, "batch_frames": 700,
            "max_epochs": 60, "valid_every_epochs": 5, "grad_clip": 1.0, "guided_attn_weight": 10.0,
            "plot_dir": str(root / "exp/plots"), "log_every_steps": 30, "keep_checkpoints": 1}
    cfg = root / "tts.yaml"
    cfg.write_text(yaml.safe_dump(conf))
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1")
    proc = subprocess.run([sys.executable, "-m", "s2s.bin.train", "--config", str(cfg), "--exp-dir",
                           str(root / "exp"), *over], cwd=root, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"training failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-4000:]}")
    return proc


def validations(log: str) -> list[dict[str, float]]:
    out = []
    for line in log.splitlines():
        if "validation:" in line:
            fields = line.split("validation:")[1].split()
            out.append({k: float(v) for k, v in zip(fields[::2], fields[1::2])})
    return out


# Training to a diagonal attention takes 26 s of CPU (about 1 min 45 s wall on 2 busy
# cores): the tests that use it are marked e2e.
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("tts")
    data = make_corpus(root)
    train(root, data)
    return root, data


# ------------------------------------------------------------------ model and symbols

def test_forward_shapes_and_padding_do_not_change_an_utterance():
    torch.manual_seed(0)
    model = Tacotron2(n_mels=20, n_speakers=2, **{**SMALL, "dropout": 0.0}).eval()
    model.prenet.dropout = 0.0  # prenet dropout is always on by design; off to compare outputs
    ids = torch.tensor([[5, 6, 7, 8, 1], [9, 10, 1, 0, 0]])
    id_lens = torch.tensor([5, 3])
    mels = torch.randn(2, 12, 20)
    with torch.no_grad():
        before, after, stop, align = model(ids, id_lens, mels, torch.tensor([12, 9]), torch.tensor([0, 1]))
        alone = model(ids[1:, :3], id_lens[1:], mels[1:], torch.tensor([9]), torch.tensor([1]))
    assert before.shape == after.shape == (2, 12, 20)
    assert stop.shape == (2, 12) and align.shape == (2, 4, 5)
    assert torch.allclose(align.sum(-1), torch.ones(2, 4), atol=1e-5)
    assert float(align[1, :, 3:].abs().max()) == 0.0  # no attention on padding
    assert torch.allclose(alone[1], after[1:], atol=1e-5)


GST = {"gst_tokens": 6, "gst_token_dim": 32, "gst_heads": 4, "gst_ref_filters": [8, 8, 16], "gst_ref_dim": 16}


def test_style_tokens_keep_each_speakers_mean_style_for_synthesis():
    torch.manual_seed(0)
    model = Tacotron2(n_mels=20, n_speakers=3, **{**SMALL, "dropout": 0.0}, **GST)
    ids = torch.tensor([[5, 6, 7, 8, 1], [9, 10, 1, 0, 0]])
    mels = torch.randn(2, 12, 20)
    model(ids, torch.tensor([5, 3]), mels, torch.tensor([12, 9]), torch.tensor([0, 2]))
    assert model.speaker_style_seen.tolist() == [True, False, True]
    model.eval()
    with torch.no_grad():
        first = model.style(mels[:1], torch.tensor([12]))
        first_then = model.speaker_styles[0].clone()
        model.train()
        model(ids[:1], torch.tensor([5]), mels[:1] * 0.5, torch.tensor([12]), torch.tensor([0]))
        model.eval()
        moved = model.speaker_styles[0].clone()
    assert not torch.equal(first_then, torch.zeros_like(first_then))
    assert 0 < float((moved - first_then).norm()) < float((first[0] - first_then).norm() + 10)
    # Synthesis without a style uses the speaker's mean style; another style changes the speech.
    text = torch.tensor(text_to_ids("hello"))
    torch.manual_seed(1)
    default, _, _ = model.infer(text, speaker=0, max_steps=6)
    torch.manual_seed(1)
    same, _, _ = model.infer(text, speaker=0, max_steps=6, style=model.speaker_styles[0])
    torch.manual_seed(1)
    other, _, _ = model.infer(text, speaker=0, max_steps=6,
                              style=model.style(token_weights=torch.tensor([[1.0, 0, 0, 0, 0, 0]]))[0])
    assert torch.equal(default, same)
    assert not torch.allclose(default, other)


def test_reference_encoder_style_does_not_depend_on_padding():
    torch.manual_seed(0)
    model = Tacotron2(n_mels=20, n_speakers=1, **SMALL, **GST).eval()
    mels = torch.randn(2, 30, 20)
    with torch.no_grad():
        batch = model.style(mels, torch.tensor([30, 17]))
        alone = model.style(mels[1:, :17], torch.tensor([17]))
    torch.testing.assert_close(batch[1:], alone)


def test_trim_silence_keeps_the_speech_and_a_margin():
    from s2s.tasks.tts import trim_silence

    mel = torch.full((40, 8), -11.5)
    mel[10:25] = 0.0
    mel[17] = -11.5  # a pause inside the speech stays
    assert trim_silence(mel, 40.0, margin=2).shape[0] == 19
    torch.testing.assert_close(trim_silence(mel, 40.0, margin=0), mel[10:25])
    assert trim_silence(mel, 0.0).shape[0] == 40


def test_stop_token_is_not_heeded_before_the_minimum_length():
    torch.manual_seed(0)
    model = Tacotron2(n_mels=20, **{**SMALL, "dropout": 0.0}).eval()
    with torch.no_grad():  # a stop token that is certain from the first step
        model.stop_proj.weight.zero_()
        model.stop_proj.bias.fill_(20.0)
    ids = torch.tensor(text_to_ids("hello there"))
    mel, align, stopped = model.infer(ids, max_steps=50)
    assert stopped and align.shape[0] == 1
    mel, align, stopped = model.infer(ids, max_steps=50, min_steps=7)
    assert stopped and align.shape[0] == 7 and mel.shape[0] == 7 * model.r


def test_tts_dataset_reads_segments_of_a_recording(tmp_path):
    from s2s.data.datadir import write_table
    from s2s.data.features import build_frontend
    from s2s.data.sources import FeatureSource
    from s2s.tasks.tts import TtsDataset

    sr = FRONTEND["sample_rate"]
    t = np.arange(3 * sr) / sr
    wav = (0.3 * np.sin(2 * np.pi * (200 + 100 * t) * t)).astype(np.float32)
    sf.write(tmp_path / "rec.wav", wav, sr, subtype="FLOAT")
    d = tmp_path / "data"
    write_table(d / "wav.scp", {"rec": str(tmp_path / "rec.wav")})
    write_table(d / "segments", {"rec-a": "rec 0.50 1.50", "rec-b": "rec 1.00 2.75"})
    write_table(d / "text", {"rec-a": "hello there", "rec-b": "good morning"})
    write_table(d / "utt2spk", {"rec-a": "spk", "rec-b": "spk"})
    features = FeatureSource(build_frontend(FRONTEND))
    ds = TtsDataset([str(d)], features, {"spk": 0}, VOCAB)
    assert ds.ids == ["rec-a", "rec-b"]
    for i, (start, end) in enumerate([(0.5, 1.5), (1.0, 2.75)]):
        mel = ds[i]["mel"]
        torch.testing.assert_close(mel, features.frontend.extract(wav[int(start * sr):int(end * sr)], sr))
        assert abs(ds.lengths[i] - mel.shape[0]) <= 2  # from the segment times, before loading


def test_text_outside_the_symbol_set_is_normalised_not_an_error():
    ids = text_to_ids("Call me at 7:30, OK? Ünïcode 東京 & co.")
    assert VOCAB.decode(ids[:-1]) == "call me at seven thirty ok unicode and co"
    assert ids[-1] == VOCAB.eos_id and VOCAB.unk_id not in ids
    assert text_to_ids("?!") == [VOCAB.eos_id]


def test_diagonal_score_separates_diagonal_from_uniform_attention():
    steps, n = 30, 12
    diag = torch.zeros(steps, n)
    diag[torch.arange(steps), (torch.arange(steps) * n) // steps] = 1.0
    uniform = torch.full((steps, n), 1.0 / n)
    assert diagonal_score(diag, n, steps) > 0.95
    assert diagonal_score(uniform, n, steps) < 0.3


# ------------------------------------------------------------------ training and synthesis

@pytest.mark.e2e
def test_training_makes_attention_diagonal_and_lowers_mel_loss(trained):
    root, _ = trained
    vals = validations((root / "exp/train.log").read_text())
    assert len(vals) == 12
    first, last = vals[0], vals[-1]
    assert last["diagonal"] > 0.7, vals
    assert last["diagonal"] > first["diagonal"] + 0.3, vals
    assert last["mel_loss"] < 0.6 * first["mel_loss"], vals
    plots = sorted((root / "exp/plots").glob("alignment_*.png"))
    assert len(plots) == 12 and plots[-1].read_bytes()[:4] == b"\x89PNG"


@pytest.mark.e2e
def test_synthesized_audio_has_the_requested_rate_and_mel_length(trained):
    from s2s.synth.tacotron import TacotronSynthesizer

    root, _ = trained
    synth = TacotronSynthesizer(root / "exp/checkpoints/last.pt", griffin_lim_iters=8)
    assert synth.speakers() == ["tacotron2_espeakenus"]
    spk = synth.speakers()[0]
    torch.manual_seed(0)
    mel, align, stopped = synth.mel("the cat sat on the mat", spk)
    assert stopped, "decoding ran to the step limit"
    assert mel.shape[1] == FRONTEND["num_mel_bins"]
    # about as long as espeak-ng says it (1.5 s), within a factor of two
    assert 0.7 < mel.shape[0] * FRONTEND["window_stride"] < 3.0
    texts = ["the cat sat on the mat", "Call me at 7:30!", "?!"]
    wavs = synth.synthesize(texts, spk, sample_rate=8000)
    assert all(w.dtype == np.float32 for w in wavs)
    assert len(wavs[2]) == 0
    for w in wavs[:2]:
        assert 0.5 * 8000 < len(w) < 20 * 8000
        assert 0 < np.abs(w).max() <= 1.0
    # same seed, same audio (bit for bit for the same call; to float rounding when batched differently)
    again = synth.synthesize(texts, spk, sample_rate=8000)
    assert all(np.array_equal(a, w) for a, w in zip(again, wavs))
    alone = synth.synthesize(texts[:1], spk, sample_rate=8000)[0]
    assert alone.shape == wavs[0].shape and np.abs(alone - wavs[0]).max() < 1e-5


def test_bf16_training_runs_and_stays_finite(tmp_path):
    data = make_corpus(tmp_path)
    train(tmp_path, data, "--precision", "bf16", "--max_steps", "3", "--max_epochs", "1", "--batch_frames", "400")
    ck = torch.load(tmp_path / "exp/checkpoints/last.pt", weights_only=False)
    assert all(torch.isfinite(v).all() for v in ck["model"].values() if v.is_floating_point())
    assert all(v.dtype != torch.bfloat16 for v in ck["model"].values())


# ------------------------------------------------------------------ bad input

def test_tacotron2_backend_without_a_model_says_how_to_get_one():
    from s2s.synth.tacotron import get_synthesizer

    with pytest.raises(S2SError, match="--model"):
        get_synthesizer("tacotron2")


@pytest.mark.e2e
def test_unknown_speaker_lists_the_model_speakers(trained):
    from s2s.synth.tacotron import TacotronSynthesizer

    root, _ = trained
    synth = TacotronSynthesizer(root / "exp/checkpoints/last.pt")
    with pytest.raises(S2SError, match="tacotron2_espeakenus"):
        synth.synthesize(["hello"], "tacotron2_nobody")


def test_non_logmel_features_are_refused_with_the_fix(tmp_path):
    data = make_corpus(tmp_path)
    proc = train(tmp_path, data, "--frontend_conf.type", "fbank", check=False)
    assert proc.returncode == 1
    assert "logmel" in proc.stderr and "error:" in proc.stderr


@pytest.mark.e2e
def test_augmentation_stage_synthesizes_with_the_trained_model(trained, tmp_path):
    root, _ = trained
    os.symlink(ROOT / "utils", tmp_path / "utils")
    (tmp_path / "fbank.yaml").write_text("type: fbank\nnum_mel_bins: 20\n")
    (tmp_path / "lm.txt").write_text("the dog sat on the hat\nCall 911 now!\n")
    env = dict(os.environ, PATH=f"{ROOT / '.venv/bin'}:{os.environ['PATH']}", OMP_NUM_THREADS="1")
    proc = subprocess.run(["utils/synthesize_data.sh", "--nj", "2", "--backend", "tacotron2", "--model",
                           str(root / "exp/checkpoints/last.pt"), "--num-speakers", "1", "--feats-conf",
                           "fbank.yaml", "lm.txt", "data/lm_syn", "exp/synth", "fbank"],
                          cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = tmp_path / "data/lm_syn"
    text = (out / "text").read_text()
    assert "call nine hundred eleven now" in text
    assert len((out / "feats.scp").read_text().splitlines()) == 2
    for line in (out / "wav.scp").read_text().splitlines():
        info = sf.info(line.split()[1])
        assert info.samplerate == 16000 and info.frames > 0


@pytest.mark.e2e
def test_synthesize_command_speaks_with_the_trained_model(trained, tmp_path):
    root, _ = trained
    model = str(root / "exp/checkpoints/last.pt")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "s2s.bin.synthesize", model, *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True)

    res = run("--list-speakers")
    assert res.returncode == 0 and res.stdout.split() == ["tacotron2_espeakenus"]
    res = run("the cat sat on the mat", "--out", "cat.wav", "--griffin-lim-iters", "4")
    assert res.returncode == 0, res.stderr
    assert "speaker tacotron2_espeakenus" in res.stderr
    assert 0.5 < sf.info(tmp_path / "cat.wav").duration < 4
    for args, message in [(["hi", "--out", "x.wav", "--speaker", "tacotron2_x"], "its speakers are tacotron2_espeakenus"),
                          (["hi", "--out", "x.wav", "--style-weights", "1", "0"], "has no style tokens"),
                          (["hi", "--out", "x.wav", "--vocoder", "nope.pt"], "neither 'griffin-lim' nor a vocoder")]:
        res = run(*args)
        assert res.returncode == 1 and message in res.stderr, res.stderr
        assert not (tmp_path / "x.wav").exists()


# ------------------------------------------------------------------ Centaur

CENTAUR = {"reduction": 3, "embed_dim": 32, "dim": 48, "attention_blocks": 2, "conv_blocks": 2, "prenet_dims": [32, 32],
           "speaker_dim": 8}


@pytest.mark.parametrize("reduction", [1, 3])
def test_centaur_step_by_step_synthesis_equals_its_teacher_forced_pass(reduction):
    from s2s.models.centaur import Centaur

    torch.manual_seed(0)
    model = Centaur(n_mels=20, n_speakers=3, normalize_mels=True, window=0, **{**CENTAUR, "reduction": reduction})
    model.set_mel_stats(torch.randn(20), torch.rand(20) + 0.5)
    model(torch.tensor([[5, 6, 7, 1]]), torch.tensor([4]), torch.randn(1, 6 * reduction, 20))  # batch-norm statistics
    model.eval()
    ids = torch.tensor(text_to_ids("hey"))
    mel, align, _ = model.infer(ids, speaker=2, max_steps=7, min_steps=7)
    assert mel.shape == (7 * reduction, 20) and align.shape == (7, len(ids))
    with torch.no_grad():
        before, _, _, tf_align = model(ids[None], torch.tensor([len(ids)]), mel[None], torch.tensor([mel.shape[0]]),
                                       torch.tensor([2]))
    torch.testing.assert_close(before[0], model.normalize(mel), atol=1e-5, rtol=0)
    torch.testing.assert_close(tf_align[0], align, atol=1e-5, rtol=0)


def test_centaur_monotonic_window_keeps_the_attention_moving_forward():
    from s2s.models.centaur import Centaur

    torch.manual_seed(0)
    model = Centaur(n_mels=20, window=2, **CENTAUR).eval()
    ids = torch.tensor(text_to_ids("the cat sat on the mat"))
    _, align, _ = model.infer(ids, max_steps=30, min_steps=30)
    peaks = align.argmax(1)
    assert bool((peaks[1:] >= peaks[:-1] - 1).all())  # averaged over blocks: never far behind the last peak


def test_centaur_trains_as_a_config_of_the_tts_task(tmp_path):
    data = make_corpus(tmp_path)
    train(tmp_path, data, "--model", "centaur", "--model_conf", yaml.safe_dump(CENTAUR, default_flow_style=True).strip(),
          "--max_epochs", "2", "--valid_every_epochs", "1")
    vals = validations((tmp_path / "exp/train.log").read_text())
    assert len(vals) == 2 and vals[-1]["loss"] < vals[0]["loss"]
    from s2s.synth.tacotron import TacotronSynthesizer

    synth = TacotronSynthesizer(tmp_path / "exp/checkpoints/last.pt", griffin_lim_iters=2, max_decoder_steps=10)
    wav = synth.synthesize(["the cat"], synth.speakers()[0], 16000)[0]
    assert wav.dtype == np.float32 and len(wav) > 0
