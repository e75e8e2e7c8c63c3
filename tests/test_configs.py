"""Every training config of every recipe passes ``s2s.bin.train --dry-run``: its keys and types
are valid, and its data pipeline, model and optimizer build (the parameter count is printed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from toy_asr import make_toy_corpus

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for p in ROOT.glob("egs/*/conf/*.yaml") if "task" in (yaml.safe_load(p.read_text()) or {}))


def write_feats(d: Path, feats: dict, frontend: dict) -> None:
    import kaldiio

    with kaldiio.WriteHelper(f"ark,scp:{d}/feats.ark,{d}/feats.scp") as w:
        for u in sorted(feats):
            w(u, feats[u])
    (d / "utt2num_frames").write_text("".join(f"{u} {feats[u].shape[0]}\n" for u in sorted(feats)))
    (d / "frontend.yaml").write_text(yaml.safe_dump(frontend))


def cmvn(d: Path) -> None:
    from s2s.data.cmvn import compute_cmvn_stats

    compute_cmvn_stats(d / "feats.scp", d / "cmvn.ark")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("cfg")
    corpus = make_toy_corpus(root, n_train=16, n_valid=4, dim=64)
    cmvn(corpus["train"])
    rng = np.random.default_rng(0)
    import soundfile as sf

    # Configs with waveform augmentation (noise_conf) read the training audio through the front end
    # the features were dumped with.
    train, audio = corpus["train"], root / "asr_wav"
    audio.mkdir()
    utts = [line.split()[0] for line in (train / "utt2spk").read_text().splitlines()]
    for u in utts:
        sf.write(audio / f"{u}.wav", (0.1 * rng.standard_normal(8000)).astype(np.float32), 16000)
    (train / "wav.scp").write_text("".join(f"{u} {audio / u}.wav\n" for u in utts))
    (train / "frontend.yaml").write_text((ROOT / "egs/librispeech/conf/logmel64.yaml").read_text())
    # keyword spotting: 1 s clips of 64 log-mel features, labels in text
    labels = ["_silence_", "_unknown_", "yes", "no"]
    kws = root / "kws" / "train"
    kws.mkdir(parents=True)
    utts = {f"s{i % 4}-{i:03d}": labels[i % 4] for i in range(16)}
    (kws / "text").write_text("".join(f"{u} {lab}\n" for u, lab in sorted(utts.items())))
    (kws / "utt2spk").write_text("".join(f"{u} {u.split('-')[0]}\n" for u in sorted(utts)))
    import soundfile as sf

    wav_dir = root / "kws" / "wav"
    wav_dir.mkdir()
    for u in utts:  # waveform augmentation (time shift, noise) reads the audio
        sf.write(wav_dir / f"{u}.wav", (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000)
    (kws / "wav.scp").write_text("".join(f"{u} {wav_dir / u}.wav\n" for u in sorted(utts)))
    write_feats(kws, {u: rng.standard_normal((101, 64)).astype(np.float32) for u in utts},
                {"type": "logmel", "sample_rate": 16000, "num_mel_bins": 64, "window_size": 0.025,
                 "window_stride": 0.01})
    cmvn(kws)
    (kws.parent / "labels.txt").write_text("".join(f"{lab}\n" for lab in labels))
    noise = root / "data" / "noise"  # speech_commands configs mix background noise from data/noise
    noise.mkdir(parents=True)

    sf.write(noise / "n.wav", (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000)
    (noise / "wav.scp").write_text(f"n {noise / 'n.wav'}\n")
    # synthesis: 80 log-mel targets at 22.05 kHz, one speaker
    tts = root / "tts" / "train"
    tts.mkdir(parents=True)
    texts = {f"lj-{i:03d}": "printing in the only sense" for i in range(4)}
    (tts / "text").write_text("".join(f"{u} {t}\n" for u, t in sorted(texts.items())))
    (tts / "utt2spk").write_text("".join(f"{u} lj\n" for u in sorted(texts)))
    write_feats(tts, {u: rng.standard_normal((60, 80)).astype(np.float32) for u in texts},
                yaml.safe_load((ROOT / "egs/ljspeech/conf/logmel.yaml").read_text()))
    for u in texts:  # vocoders read the audio under the features
        sf.write(wav_dir / f"{u}.wav", (0.1 * rng.standard_normal(22050)).astype(np.float32), 22050)
    (tts / "wav.scp").write_text("".join(f"{u} {wav_dir / u}.wav\n" for u in sorted(texts)))
    # images: an image data dir (images.scp + text) of two classes
    from PIL import Image

    images = root / "images" / "train"
    images.mkdir(parents=True)
    items = {f"img{i:02d}": ("cat" if i % 2 else "dog") for i in range(4)}
    for u in items:
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(images / f"{u}.png")
    (images / "images.scp").write_text("".join(f"{u} {images / u}.png\n" for u in sorted(items)))
    (images / "text").write_text("".join(f"{u} {lab}\n" for u, lab in sorted(items.items())))
    # sentiment: documents (text) with their labels (utt2label)
    docs = root / "docs" / "train"
    docs.mkdir(parents=True)
    (docs / "text").write_text("d1 the only sense\nd2 in the printing\n")
    (docs / "utt2label").write_text("d1 pos\nd2 neg\n")
    return root, corpus, kws, tts


def write_even_durations(d: Path, trim_db: float) -> None:
    """DATA/durations giving each symbol an equal share of its utterance's (trimmed) frames, and
    DATA/pitch giving every symbol 120 Hz, and DATA/f0 (for FastPitch with its own aligner) giving
    every frame 120 Hz."""
    from s2s.data.features import build_frontend
    from s2s.data.sources import FeatureSource, dumped_frontend_conf
    from s2s.data.text import tts_vocabulary
    from s2s.tasks.tts import TtsDataset

    data = TtsDataset([str(d)], FeatureSource(build_frontend(dumped_frontend_conf(d))), {}, tts_vocabulary(),
                      trim_db=trim_db)
    lines, f0 = [], []
    for i in range(len(data)):
        item = data[i]
        f0.append(f"{item['id']}" + " 120.0" * data.features.load(data._src[i]).shape[0] + "\n")
        t, n = item["mel"].shape[0], len(item["symbols"])
        lines.append(f"{item['id']} " + " ".join(str(t // n + (k < t % n)) for k in range(n)))
    (d / "durations").write_text("\n".join(lines) + "\n")
    (d / "pitch").write_text("".join(f"{line.split()[0]}" + " 120.0" * (len(line.split()) - 1) + "\n"
                                     for line in lines))
    (d / "f0").write_text("".join(f0))


@pytest.mark.parametrize("config", CONFIGS, ids=[str(p.relative_to(ROOT / "egs")) for p in CONFIGS])
def test_config_dry_run(config, data):
    root, corpus, kws, tts = data
    conf = yaml.safe_load(config.read_text())
    task = conf["task"]
    if task == "mt":  # a parallel data dir: the transcripts on both sides
        mt = root / "mt"
        mt.mkdir(exist_ok=True)
        text = (corpus["train"] / "text").read_text()
        (mt / "text").write_text(text)
        (mt / f"text.{conf['tgt_lang']}").write_text(text)
    args = {
        "mt": ["--train_data", str(root / "mt"), "--valid_data", str(root / "mt"), "--token_list", str(corpus["lang"])],
        "asr": ["--train_data", str(corpus["train"]), "--valid_data", str(corpus["valid"]),
                "--token_list", str(corpus["lang"])],
        "lm": ["--train_data", str(corpus["train"] / "text"), "--valid_data", str(corpus["valid"] / "text"),
               "--token_list", str(corpus["lang"])],
        "classify": ["--train_data", str(kws), "--valid_data", str(kws)],
        "tts": ["--train_data", str(tts), "--valid_data", str(tts)],
        "vocoder": ["--train_data", str(tts), "--valid_data", str(tts)],
        "image": ["--train_data", str(root / "images/train"), "--valid_data", str(root / "images/train")],
        "text_classify": ["--train_data", str(root / "docs/train"), "--valid_data", str(root / "docs/train"),
                          "--token_list", str(corpus["lang"])],
    }[task]
    if conf.get("model") == "fastspeech":  # symbol durations, as s2s.bin.tts_durations writes them
        write_even_durations(tts, conf.get("trim_silence_db", 0.0))
    if conf.get("init_from"):  # a model the recipe trains first (checked in test_init_from_configs_name_their_source)
        args += ["--init_from", "null"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "s2s.bin.train", "--config", str(config), "--dry-run", *args],
                          cwd=root, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "parameters" in proc.stdout


def test_init_from_configs_name_their_source(data):
    """A config that starts from another model names a checkpoint path the recipe writes, and a
    dry run without it says which file is missing, at its line in the config."""
    root, corpus, _, _ = data
    for config in CONFIGS:
        conf = yaml.safe_load(config.read_text())
        if not conf.get("init_from"):
            continue
        assert conf["init_from"].startswith("exp/") and conf["init_from"].endswith(".pt"), config
        env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
        proc = subprocess.run([sys.executable, "-m", "s2s.bin.train", "--config", str(config), "--dry-run",
                               "--train_data", str(corpus["train"]), "--token_list", str(corpus["lang"])],
                              cwd=root, env=env, capture_output=True, text=True)
        assert proc.returncode == 1 and f"init_from: {conf['init_from']}: checkpoint not found" in proc.stderr
        assert f"{config}:" in proc.stderr
