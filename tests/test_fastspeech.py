"""FastSpeech (task tts, model fastspeech): the length regulator, durations from a teacher's
attention (the monotonic path), per-symbol pitch (FastPitch), the model's shapes and synthesis,
the durations and pitch files' errors, and the whole path on a tiny espeak-ng corpus: Tacotron 2
teacher -> durations and pitch -> FastPitch training -> speech through the synthesis backend."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_tacotron2 import FRONTEND, ROOT, make_corpus, train, validations  # noqa: E402

from s2s.data.text import text_to_ids, tts_vocabulary  # noqa: E402
from s2s.errors import S2SError  # noqa: E402
from s2s.models.aligner import (  # noqa: E402
    binarization_loss,
    forward_sum_loss,
    log_beta_binomial_prior,
    monotonic_alignment,
    monotonic_durations,
)
from s2s.models.fastspeech import FastSpeech, mean_pitch, regulate  # noqa: E402
from s2s.synth.durations import frame_attention  # noqa: E402
from s2s.synth.pitch import frame_pitch, symbol_pitch  # noqa: E402

VOCAB = tts_vocabulary()
TINY = {"embed_dim": 32, "encoder_blocks": 2, "dim": 32, "decoder_blocks": 3, "duration_hidden": 32,
        "postnet_channels": 32, "postnet_layers": 2, "speaker_dim": 8, "dropout": 0.0}
STUDENT = {"embed_dim": 64, "encoder_blocks": 3, "dim": 96, "decoder_blocks": 4, "duration_hidden": 64,
           "postnet_channels": 64, "postnet_layers": 3, "speaker_dim": 16, "dropout": 0.1,
           "normalize_mels": True}


# ------------------------------------------------------------------ length regulator and durations

def test_length_regulator_repeats_each_symbol_for_its_frames():
    x = torch.tensor([[[1.0], [2.0], [3.0]], [[4.0], [5.0], [0.0]]])
    d = torch.tensor([[2, 0, 3], [1, 2, 0]])
    out, lengths, symbol, progress = regulate(x, d)
    assert lengths.tolist() == [5, 3] and out.shape == (2, 5, 1)
    assert out[0, :, 0].tolist() == [1, 1, 3, 3, 3]        # the zero-length symbol is skipped
    assert out[1, :3, 0].tolist() == [4, 5, 5]
    assert symbol[0].tolist() == [0, 0, 2, 2, 2]
    assert torch.allclose(progress[0], torch.tensor([0.25, 0.75, 1 / 6, 0.5, 5 / 6]))
    assert regulate(x, d, max_frames=8)[0].shape == (2, 8, 1)


def test_monotonic_durations_follow_the_best_path_and_give_every_symbol_a_frame():
    # attention that clearly walks 0,0,0,1,1,2,2,2 but with a stray peak back on symbol 0
    path = [0, 0, 0, 1, 1, 2, 2, 2]
    a = np.full((8, 3), 0.05)
    for t, n in enumerate(path):
        a[t, n] = 0.9
    a[6] = [0.9, 0.05, 0.05]          # argmax would count frame 6 for symbol 0 again
    d = monotonic_durations(np.log(a))
    assert d.tolist() == [3, 2, 3] and d.sum() == 8
    # a symbol the attention never looks at still gets one frame, in order
    b = np.full((6, 3), 0.01)
    b[:3, 0] = b[3:, 2] = 0.98
    assert monotonic_durations(np.log(b)).tolist() in ([3, 1, 2], [2, 1, 3])
    with pytest.raises(ValueError, match="2 frames"):
        monotonic_durations(np.zeros((2, 3)))


def test_frame_attention_interpolates_between_decoder_steps():
    steps = torch.tensor([[1.0, 0.0], [0.0, 1.0]])       # r = 4 frames a step
    la = frame_attention(steps, frames=8, symbols=2, r=4)
    a = np.exp(la)
    assert la.shape == (8, 2)
    assert np.allclose(a[:2], [[1, 0], [1, 0]], atol=1e-6)   # before the first step's middle
    assert np.allclose(a[6:], [[0, 1], [0, 1]], atol=1e-6)   # after the last one's
    assert 0 < a[3, 1] < a[4, 1] < 1                         # a boundary can fall inside a step
    d = monotonic_durations(la)
    assert d.tolist() == [4, 4]


# ------------------------------------------------------------------ the model

def test_forward_and_infer_shapes_and_padding_do_not_change_an_utterance():
    torch.manual_seed(0)
    model = FastSpeech(n_mels=12, n_speakers=3, **TINY).eval()
    ids = [torch.tensor(text_to_ids("the cat sat", VOCAB)), torch.tensor(text_to_ids("a dog", VOCAB))]
    durs = [torch.randint(1, 4, (len(i),)) for i in ids]
    sym = torch.nn.utils.rnn.pad_sequence(ids, batch_first=True, padding_value=VOCAB.pad_id)
    dur = torch.nn.utils.rnn.pad_sequence(durs, batch_first=True)
    lens = torch.tensor([int(d.sum()) for d in durs])
    mels = torch.randn(2, int(lens.max()), 12)
    before, after, log_dur, pitch, aux = model(sym, torch.tensor([len(i) for i in ids]), mels, lens,
                                               torch.tensor([0, 2]), dur)
    assert pitch is None and aux == {}
    assert before.shape == after.shape == (2, int(lens.max()), 12) and log_dur.shape == sym.shape
    assert after[1, int(lens[1]):].abs().max() == 0          # padded frames are zero
    alone = model(ids[1][None], torch.tensor([len(ids[1])]), mels[1:, :int(lens[1])], lens[1:],
                  torch.tensor([2]), durs[1][None])
    assert torch.allclose(alone[1][0], after[1, :int(lens[1])], atol=1e-5)
    assert torch.allclose(alone[2][0], log_dur[1, :len(ids[1])], atol=1e-5)
    mel, align, stopped = model.infer(ids[0], speaker=1)
    assert stopped and mel.shape[1] == 12 and align.shape == (mel.shape[0], len(ids[0]))
    assert torch.equal(align.sum(1), torch.ones(mel.shape[0]))          # one symbol a frame
    assert (align.argmax(1).diff() >= 0).all()                          # in order
    assert model.infer(ids[0], speaker=1, max_steps=3)[0].shape[0] <= 3


def test_fastpitch_predicts_and_embeds_each_symbols_pitch():
    torch.manual_seed(0)
    model = FastSpeech(n_mels=12, n_speakers=2, pitch=True, **TINY).eval()
    model.set_pitch_stats(float(np.log(120.0)), 0.5)
    hz = torch.tensor([[0.0, 120.0, 120.0 * np.e ** 0.5, 60.0]])
    assert torch.allclose(model.normalize_pitch(hz), torch.tensor([[0.0, 0.0, 1.0, -2 * float(np.log(2.0))]]), atol=1e-5)
    ids = [torch.tensor(text_to_ids("the cat sat", VOCAB)), torch.tensor(text_to_ids("a dog", VOCAB))]
    durs = [torch.randint(1, 4, (len(i),)) for i in ids]
    f0 = [torch.rand(len(i)) * 200 + 80 for i in ids]
    f0[1][0] = 0.0
    sym = torch.nn.utils.rnn.pad_sequence(ids, batch_first=True, padding_value=VOCAB.pad_id)
    lens = torch.tensor([int(d.sum()) for d in durs])
    mels = torch.randn(2, int(lens.max()), 12)
    args = (sym, torch.tensor([len(i) for i in ids]), mels, lens, torch.tensor([0, 1]),
            torch.nn.utils.rnn.pad_sequence(durs, batch_first=True))
    before, after, log_dur, pitch, _ = model(*args, torch.nn.utils.rnn.pad_sequence(f0, batch_first=True))
    assert pitch.shape == log_dur.shape == sym.shape
    alone = model(ids[1][None], torch.tensor([len(ids[1])]), mels[1:, :int(lens[1])], lens[1:],
                  torch.tensor([1]), durs[1][None], f0[1][None])
    assert torch.allclose(alone[3][0], pitch[1, :len(ids[1])], atol=1e-5)
    assert torch.allclose(alone[1][0], after[1, :int(lens[1])], atol=1e-5)
    # the pitch given in training changes the frames; without it training is refused
    higher = model(*args, torch.nn.utils.rnn.pad_sequence([f * 1.5 for f in f0], batch_first=True))
    assert not torch.allclose(higher[1], after)
    with pytest.raises(ValueError, match="DATA/pitch"):
        model(*args)
    # synthesis takes the predictor's pitch: a different prediction, different frames
    with torch.no_grad():
        model.pitch_predictor.out.weight.zero_()
        model.pitch_predictor.out.bias.fill_(0.0)
        low = model.infer(ids[0])[0]
        model.pitch_predictor.out.bias.fill_(2.0)
        high = model.infer(ids[0])[0]
    assert low.shape == high.shape and not torch.allclose(low, high)


def test_monotonic_alignment_of_a_padded_batch_is_each_utterance_alone():
    torch.manual_seed(0)
    lens_n, lens_t = torch.tensor([7, 4, 5, 6]), torch.tensor([30, 12, 5, 3])
    la = torch.randn(4, 30, 7) * 3
    d = monotonic_alignment(la, lens_n, lens_t)
    assert d.sum(1).tolist() == lens_t.tolist()
    for b in range(3):  # a path exists: every symbol has a frame, none past the end
        n, t = int(lens_n[b]), int(lens_t[b])
        assert (d[b, :n] >= 1).all() and (d[b, n:] == 0).all()
        assert d[b, :n].tolist() == monotonic_durations(la[b, :t, :n].numpy()).tolist()
    # 3 frames for 6 symbols: no path; each frame goes to its most likely symbol
    assert d[3].tolist() == torch.bincount(la[3, :3, :6].argmax(1), minlength=7).tolist()


def test_the_aligner_learns_known_durations_from_the_forward_sum_loss():
    """Frames made of each symbol's own random spectrum, repeated for known durations: trained on
    the forward-sum loss alone, the aligner's best monotonic path finds the durations."""
    from s2s.models.aligner import AlignmentEncoder

    torch.manual_seed(0)
    vocab, bins = 12, 16
    sound = torch.randn(vocab, bins)
    emb = torch.nn.Embedding(vocab, 16)
    aligner = AlignmentEncoder(bins, 16, 16)
    opt = torch.optim.Adam([*aligner.parameters(), *emb.parameters()], lr=3e-3)

    def batch(size):
        ids = [torch.randint(0, vocab, (int(torch.randint(5, 10, ())),)) for _ in range(size)]
        durs = [torch.randint(1, 6, (len(i),)) for i in ids]
        frames = torch.tensor([int(d.sum()) for d in durs])
        mels = torch.zeros(size, int(frames.max()), bins)
        for b in range(size):
            spoken = torch.repeat_interleave(ids[b], durs[b])
            mels[b, :len(spoken)] = sound[spoken] + 0.3 * torch.randn(len(spoken), bins)
        return (torch.nn.utils.rnn.pad_sequence(ids, batch_first=True), torch.tensor([len(i) for i in ids]),
                mels, frames, torch.nn.utils.rnn.pad_sequence(durs, batch_first=True))

    def align(sym, n, mels, frames):
        mask = torch.arange(sym.shape[1])[None] < n[:, None]
        prior = log_beta_binomial_prior(n, frames, sym.shape[1], mels.shape[1])
        log_prob, soft = aligner(mels, emb(sym), prior, mask)
        return log_prob, monotonic_alignment(torch.log(soft.detach().clamp_min(1e-12)), n, frames), mask

    sym, n, mels, frames, truth = batch(64)
    _, before, mask = align(sym, n, mels, frames)
    for _ in range(400):
        s, sn, m, f, _ = batch(8)
        loss = forward_sum_loss(align(s, sn, m, f)[0], sn, f) / f.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    _, after, _ = align(sym, n, mels, frames)
    exact_before = (before == truth)[mask].float().mean()
    exact_after = (after == truth)[mask].float().mean()
    error_after = (after - truth)[mask].abs().float().mean()
    assert exact_before < 0.4 and exact_after > 0.7 and error_after < 0.5, (exact_before, exact_after, error_after)


def test_the_beta_binomial_prior_walks_the_diagonal():
    lp = log_beta_binomial_prior(torch.tensor([5, 1, 3]), torch.tensor([20, 4, 6]), 6, 24)
    p = lp.exp()
    assert torch.allclose(p[0, :20, :5].sum(1), torch.ones(20), atol=1e-5)   # a distribution per frame
    assert (p[0, :, 5] == 0).all() and (lp[0, 20:, :5] == 0).all()           # past the text; past the frames
    mode = p[0, :20, :5].argmax(1)
    assert mode[0] == 0 and mode[-1] == 4 and (mode.diff() >= 0).all()
    assert torch.allclose(p[1, :4, 0], torch.ones(4))                       # one symbol takes every frame
    # symmetric: frame t on symbol n is as likely as frame T + 1 - t on symbol N - 1 - n
    assert torch.allclose(p[2, :6, :3], p[2, :6, :3].flip(0).flip(1), atol=1e-5)


def test_forward_sum_and_binarization_losses_prefer_the_monotonic_alignment():
    t, n = 12, 4
    path = torch.tensor([3, 3, 3, 3])                                       # 3 frames a symbol
    on_path = torch.nn.functional.one_hot(torch.arange(t) // 3, n).float()
    reverse = on_path.flip(1)
    frames, symbols = torch.tensor([t]), torch.tensor([n])

    def logp(a):
        return torch.log((0.9 * a + 0.1 / n)[None])

    good = forward_sum_loss(logp(on_path), symbols, frames)
    bad = forward_sum_loss(logp(reverse), symbols, frames)
    assert 0 < good < bad
    # padding does not change an utterance's loss
    pad = torch.full((2, t + 5, n + 2), -1e4)
    pad[0, :t, :n] = logp(on_path)[0]
    pad[1, :t, :n] = logp(reverse)[0]
    pad[:, t:, :n] = -1.0
    both = forward_sum_loss(pad, torch.tensor([n, n]), torch.tensor([t, t]))
    assert torch.allclose(both, good + bad, atol=1e-4)
    # the soft alignment on its own hard path costs nothing; a uniform one log(n) a frame
    assert binarization_loss(on_path[None], path[None], frames) == 0
    uniform = torch.full((1, t, n), 1 / n)
    assert torch.allclose(binarization_loss(uniform, path[None], frames), torch.tensor(t * float(np.log(n))), rtol=1e-5)
    assert torch.allclose(binarization_loss(uniform, path[None], torch.tensor([6])), torch.tensor(6 * float(np.log(n))),
                          rtol=1e-5)


def test_mean_pitch_over_the_aligners_durations():
    f0 = torch.tensor([[0, 100, 120, 0, 0, 200.0, 999], [50, 0, 70, 0, 0, 0, 0]])
    d = torch.tensor([[2, 0, 3, 1], [1, 2, 0, 0]])
    p = mean_pitch(f0, d, torch.tensor([6, 3]))
    assert p.tolist() == [[100.0, 0.0, 120.0, 200.0], [50.0, 70.0, 0.0, 0.0]]


def test_fastpitch_with_the_aligner_finds_its_own_durations():
    torch.manual_seed(0)
    model = FastSpeech(n_mels=12, n_speakers=2, pitch=True, aligner=True, aligner_dim=16, bin_start_steps=1,
                       bin_warmup_steps=2, **TINY)
    ids = [torch.tensor(text_to_ids("the cat sat", VOCAB)), torch.tensor(text_to_ids("a dog", VOCAB))]
    sym = torch.nn.utils.rnn.pad_sequence(ids, batch_first=True, padding_value=VOCAB.pad_id)
    lens = torch.tensor([40, 25])
    mels, f0 = torch.randn(2, 40, 12), torch.rand(2, 40) * 100 + 100
    args = (sym, torch.tensor([len(i) for i in ids]), mels, lens, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="DATA/f0"):
        model(*args)
    bins = []
    for _ in range(4):   # the binarization loss starts after 1 training pass and is full after 2 more
        before, after, log_dur, pitch, aux = model(*args, frame_pitch=f0)
        bins.append(float(aux["bin"].detach()))
    d = aux["durations"]
    assert d.sum(1).tolist() == lens.tolist() and (d[0] >= 1).all() and (d[1, :len(ids[1])] >= 1).all()
    assert before.shape == (2, 40, 12) and pitch.shape == log_dur.shape == sym.shape
    assert torch.allclose(aux["pitch"], mean_pitch(f0, d, lens))
    assert aux["align"] > 0 and bins[0] == 0 and 0 < bins[1] < bins[2] * 0.75
    assert int(model.aligner_steps) == 4
    model.eval()
    model(*args, frame_pitch=f0)
    assert int(model.aligner_steps) == 4                                   # counts training passes only
    mel = model.infer(ids[0])[0]
    assert mel.shape[1] == 12
    # under bf16 autocast the aligner's distances stay in float32: the same durations, a finite loss
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        auto = model(*args, frame_pitch=f0)[4]
    plain = model(*args, frame_pitch=f0)[4]
    assert torch.isfinite(auto["align"]) and torch.equal(auto["durations"], plain["durations"])
    assert torch.allclose(auto["align"].float(), plain["align"], rtol=1e-3)


def test_pitch_at_the_frame_centres_and_its_mean_per_symbol():
    sr, hop = 16000, 200
    t = np.arange(sr) / sr
    tone = sum(np.sin(2 * np.pi * 150.0 * k * t) / k for k in range(1, 6))   # 150 Hz, 5 harmonics
    wav = np.concatenate([np.zeros(sr // 2), 0.3 * tone / np.abs(tone).max(), np.zeros(sr // 2)])
    n = len(wav) // hop + 1
    f0 = frame_pitch(wav, sr, hop, n)
    assert f0.shape == (n,)
    voiced = f0 > 0
    assert not voiced[:35].any() and not voiced[-35:].any()             # the silences
    assert voiced[45:115].all() and np.abs(f0[45:115] - 150.0).max() < 2.0
    assert frame_pitch(wav[:100], sr, hop, 1).tolist() == [0.0]         # too short to track: unvoiced
    # F0 stepping from 150 to 250 Hz at sample 24000, i.e. at frame 120 (frames centred on i * hop):
    # a frame grid shifted by half a window (4 frames) would put the step 4 frames off
    def tone(f, n):
        return 0.1 * sum(np.sin(2 * np.pi * f * k * np.arange(n) / sr) / k for k in range(1, 4))
    step = np.concatenate([np.zeros(sr // 2), tone(150.0, sr), tone(250.0, sr // 2), np.zeros(sr // 2)])
    f0 = frame_pitch(step, sr, hop, len(step) // hop + 1)
    assert np.abs(f0[100:118] - 150.0).max() < 3.0 and np.abs(f0[123:155] - 250.0).max() < 3.0, f0[100:160]
    assert symbol_pitch(np.array([0, 100, 120, 0, 0, 200.0]), [2, 0, 3, 1]).tolist() == [100.0, 0.0, 120.0, 200.0]
    assert symbol_pitch(np.zeros(3), [1, 2]).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="sum to 4 frames"):
        symbol_pitch(np.zeros(3), [2, 2])


def test_durations_scale_with_pace():
    torch.manual_seed(0)
    model = FastSpeech(n_mels=8, **TINY).eval()
    with torch.no_grad():
        model.duration_predictor.out.bias.fill_(float(np.log1p(6.0)))
        model.duration_predictor.out.weight.zero_()
    ids = torch.tensor(text_to_ids("hello there", VOCAB))
    assert model.infer(ids)[0].shape[0] == 6 * len(ids)
    assert model.infer(ids, pace=2.0)[0].shape[0] == 3 * len(ids)


# ------------------------------------------------------------------ the durations file

def _tts_dataset(d: Path, trim_db: float = 0.0, pitch: bool = False):
    from s2s.data.features import build_frontend
    from s2s.data.sources import FeatureSource
    from s2s.tasks.tts import TtsDataset

    return TtsDataset([str(d)], FeatureSource(build_frontend(FRONTEND)), {}, VOCAB, trim_db=trim_db,
                      durations=True, pitch=pitch)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("fs")
    return root, make_corpus(root, voices=("en-us", "en-gb"))


def test_a_missing_or_bad_durations_file_names_the_file_the_line_and_the_fix(corpus, tmp_path):
    import shutil

    _, src = corpus
    d = tmp_path / "train"
    shutil.copytree(src, d)
    with pytest.raises(S2SError, match=r"durations: not found.*s2s.bin.tts_durations"):
        _tts_dataset(d)
    utts = [line.split()[0] for line in (d / "text").read_text().splitlines()]
    texts = {line.split()[0]: line.split(maxsplit=1)[1] for line in (d / "text").read_text().splitlines()}
    lines = [f"{u} " + " ".join(["2"] * len(text_to_ids(texts[u], VOCAB))) for u in utts]
    (d / "durations").write_text("\n".join(lines[:3] + [lines[3].replace(" 2", " x", 1)] + lines[4:]) + "\n")
    with pytest.raises(S2SError, match=r"durations:4: expected 'utterance-id frames"):
        _tts_dataset(d)
    (d / "durations").write_text("\n".join(lines[:2] + [lines[2] + " 2"] + lines[3:]) + "\n")
    with pytest.raises(S2SError, match=r"durations:3: \d+ durations for the \d+ symbols .*extract them again"):
        _tts_dataset(d)
    (d / "durations").write_text("\n".join(lines[1:]) + "\n")
    with pytest.raises(S2SError, match=f"no durations for utterance '{utts[0]}'"):
        _tts_dataset(d)
    (d / "durations").write_text("\n".join(lines) + "\n")
    data = _tts_dataset(d)   # well formed, but the counts do not add up to the frames
    with pytest.raises(S2SError, match=r"durations:1: durations sum to \d+ frames, but .* --trim-silence-db"):
        data[0]
    # FastPitch's per-symbol pitch file
    with pytest.raises(S2SError, match=r"pitch: not found.*s2s.bin.tts_durations"):
        _tts_dataset(d, pitch=True)
    pitch = [line.replace(" 2", " 110.5") for line in lines]
    (d / "pitch").write_text("\n".join(pitch[:1] + [pitch[1].replace("110.5", "nan", 1)] + pitch[2:]) + "\n")
    with pytest.raises(S2SError, match=r"pitch:2: expected 'utterance-id hz hz"):
        _tts_dataset(d, pitch=True)
    (d / "pitch").write_text("\n".join(pitch[:4] + [pitch[4] + " 0.0"] + pitch[5:]) + "\n")
    with pytest.raises(S2SError, match=r"pitch:5: \d+ values for the \d+ symbols .*extract the pitch again"):
        _tts_dataset(d, pitch=True)
    (d / "pitch").write_text("\n".join(pitch) + "\n")
    assert _tts_dataset(d, pitch=True).pitch[0][0] == 110.5


# ------------------------------------------------------------------ teacher -> student -> speech

@pytest.mark.e2e
def test_teacher_durations_train_a_fastspeech_that_speaks(corpus, tmp_path):
    """A (briefly trained) Tacotron 2 teacher gives durations that sum to the trimmed frames;
    FastSpeech trains on them (loss falls), and the tacotron2 backend speaks with it."""
    root, data = corpus
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    train(teacher, data, "--max_epochs", "3", "--valid_every_epochs", "3", "--trim_silence_db", "40")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-m", "s2s.bin.tts_durations", str(teacher / "exp/checkpoints/last.pt"),
                          "--data", str(data), "--trim-silence-db", "40"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "durations of 16 utterances" in out.stderr and "per-symbol pitch of 16 utterances" in out.stderr
    nopitch = subprocess.run([sys.executable, "-m", "s2s.bin.tts_durations", str(teacher / "exp/checkpoints/last.pt"),
                              "--data", str(data), "--trim-silence-db", "40", "--no-pitch", "--out", str(tmp_path / "d2")],
                             env=env, capture_output=True, text=True)
    assert nopitch.returncode == 0 and "per-symbol pitch" not in nopitch.stderr, nopitch.stderr
    assert (tmp_path / "d2").read_text() == (data / "durations").read_text()
    assert not (tmp_path / "d2.pitch").exists()
    ds = _tts_dataset(data, trim_db=40, pitch=True)
    voiced = []
    for i in range(len(ds)):
        item = ds[i]
        assert item["durations"].sum() == item["mel"].shape[0]
        assert len(item["durations"]) == len(item["symbols"]) and (item["durations"] >= 1).all()
        assert item["pitch"].shape == item["durations"].shape and (item["pitch"] >= 0).all()
        voiced.extend(item["pitch"][item["pitch"] > 0].tolist())
    # espeak-ng's default voices speak at about 100-200 Hz; most symbols are voiced
    assert len(voiced) > 0.5 * sum(len(ds[i]["symbols"]) for i in range(len(ds)))
    assert 70 < np.median(voiced) < 250
    # trimmed differently than the durations were extracted: the sums no longer match
    with pytest.raises(S2SError, match="trim_silence_db: 0"):
        [_tts_dataset(data)[i] for i in range(len(ds))]

    student = tmp_path / "student"
    student.mkdir()
    train(student, data, "--model", "fastspeech", "--model_conf",
          yaml.safe_dump({**STUDENT, "pitch": True}, default_flow_style=True).strip(), "--trim_silence_db", "40",
          "--mel_loss", "l1", "--optim_conf", "{lr: 0.002}",
          "--max_epochs", "80", "--valid_every_epochs", "20")
    vals = validations((student / "exp/train.log").read_text())
    assert len(vals) == 4 and set(vals[0]) == {"loss", "mel_loss", "duration_loss", "pitch_loss"}
    assert vals[-1]["mel_loss"] < 0.6 * vals[0]["mel_loss"], vals
    assert vals[-1]["duration_loss"] < vals[0]["duration_loss"], vals
    assert vals[-1]["pitch_loss"] < vals[0]["pitch_loss"], vals

    from s2s.synth.tacotron import TacotronSynthesizer

    synth = TacotronSynthesizer(student / "exp/checkpoints/last.pt", griffin_lim_iters=4)
    assert synth.meta["model"]["name"] == "fastspeech" and len(synth.speakers()) == 2
    mel, align, stopped = synth.mel("the cat sat on the mat", synth.speakers()[0])
    assert stopped and mel.shape[1] == FRONTEND["num_mel_bins"]
    # espeak-ng says it in about 1.3 s; the predicted durations give the same within a factor 2
    assert 0.6 < mel.shape[0] * FRONTEND["window_stride"] < 2.6
    wavs = synth.synthesize(["the cat sat on the mat", "?!"], synth.speakers()[1], sample_rate=16000)
    assert len(wavs[1]) == 0 and 0 < np.abs(wavs[0]).max() <= 1.0
    # a FastSpeech has no attention to take durations from
    bad = subprocess.run([sys.executable, "-m", "s2s.bin.tts_durations", str(student / "exp/checkpoints/last.pt"),
                          "--data", str(data), "--out", str(tmp_path / "d")], env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and "no attention to take durations from" in bad.stderr
    assert not (tmp_path / "d").exists() and not (tmp_path / "d.pitch").exists()
    # durations extracted again without pitch: the old pitch file, which no longer matches, goes
    import shutil

    again = tmp_path / "again"
    shutil.copytree(data, again)
    assert (again / "pitch").is_file()
    out = subprocess.run([sys.executable, "-m", "s2s.bin.tts_durations", str(teacher / "exp/checkpoints/last.pt"),
                          "--data", str(again), "--trim-silence-db", "40", "--no-pitch"], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0 and "removed with the durations it belonged to" in out.stderr, out.stderr
    assert (again / "durations").is_file() and not (again / "pitch").exists()



@pytest.mark.e2e
def test_fastpitch_with_its_own_aligner_trains_without_a_teacher(corpus, tmp_path):
    """No durations: s2s.bin.tts_pitch writes each frame's F0, the aligner learns the durations
    (its forward-sum loss falls), and the model speaks sentences it has not seen for a plausible time."""
    import shutil

    _, src = corpus
    data = tmp_path / "train"
    shutil.copytree(src, data)
    for name in ("durations", "pitch"):   # the teacher test may have left them: not used here
        (data / name).unlink(missing_ok=True)
    (tmp_path / "logmel.yaml").write_text(yaml.safe_dump(FRONTEND))
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "s2s.bin.tts_pitch", "--data", str(data)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)   # no dumped features, no --frontend-conf
    assert out.returncode == 1 and "no logmel front end" in out.stderr and "--frontend-conf" in out.stderr
    assert not (data / "f0").exists()
    out = subprocess.run(cmd + ["--frontend-conf", str(tmp_path / "logmel.yaml")], env=env, capture_output=True,
                         text=True)
    assert out.returncode == 0 and "F0 of 16 utterances" in out.stderr, out.stderr
    conf = yaml.safe_dump({**STUDENT, "pitch": True, "aligner": True, "aligner_dim": 32, "bin_start_steps": 60,
                           "bin_warmup_steps": 60}, default_flow_style=True).strip()
    common = ("--model", "fastspeech", "--model_conf", conf, "--trim_silence_db", "40", "--mel_loss", "l1",
              "--optim_conf", "{lr: 0.002}")
    # the F0 file checked: a malformed line, a count that does not match the frames
    good = (data / "f0").read_text()
    lines = good.splitlines()
    (tmp_path / "bad").mkdir()
    (data / "f0").write_text("\n".join(lines[:2] + [lines[2].replace(" 0", " -3", 1)] + lines[3:]) + "\n")
    proc = train(tmp_path / "bad", data, *common, "--max_epochs", "1", check=False)
    assert proc.returncode == 1 and "f0:3: expected 'utterance-id hz hz" in proc.stderr, proc.stderr[-2000:]
    (data / "f0").write_text("\n".join(lines[:1] + [lines[1] + " 0"] + lines[2:]) + "\n")
    proc = train(tmp_path / "bad", data, *common, "--max_epochs", "1", check=False)
    assert proc.returncode == 1 and "f0:2:" in proc.stderr and "s2s.bin.tts_pitch" in proc.stderr, proc.stderr[-2000:]
    (data / "f0").write_text(good)
    shutil.rmtree(tmp_path / "bad")
    assert not (data / "durations").exists()

    exp = tmp_path / "student"
    exp.mkdir()
    train(exp, data, *common, "--max_epochs", "60", "--valid_every_epochs", "10")
    vals = validations((exp / "exp/train.log").read_text())
    assert len(vals) == 6 and {"align_loss", "bin_loss", "duration_loss", "pitch_loss"} <= set(vals[0]), vals
    assert vals[-1]["mel_loss"] < 0.7 * vals[0]["mel_loss"], vals
    assert vals[-1]["align_loss"] < vals[0]["align_loss"], vals
    assert vals[0]["bin_loss"] == 0 < vals[-1]["bin_loss"], vals        # off until bin_start_steps

    from s2s.synth.tacotron import TacotronSynthesizer

    synth = TacotronSynthesizer(exp / "exp/checkpoints/last.pt", griffin_lim_iters=4)
    mel, _, stopped = synth.mel("the cat sat on the mat", synth.speakers()[0])
    # espeak-ng says it in about 1.3 s; the learned durations give the same within a factor 2
    assert stopped and 0.6 < mel.shape[0] * FRONTEND["window_stride"] < 2.6, mel.shape


def test_an_unknown_mel_loss_is_refused_with_the_choices(corpus, tmp_path):
    _, data = corpus
    proc = train(tmp_path, data, "--mel_loss", "l3", "--max_epochs", "1", check=False)
    assert proc.returncode == 1 and "mel_loss: 'l3' is not a mel loss; use l2 or l1" in proc.stderr
    assert not (tmp_path / "exp/checkpoints").exists()
