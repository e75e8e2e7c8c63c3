"""egs/mini end to end on a tiny corpus: every stage, through the real scripts.

The recipe files are linked into a temporary directory so the run leaves the
checkout untouched; then the trained model decodes raw audio (no feats.scp) and
transcribes single files with s2s-transcribe.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
import yaml
from mini_workdir import MINI, mini_workdir

TINY_MODEL = {  # small enough to train in about 30 s on 2 cores, big enough to learn the corpus
    "task": "asr",
    "encoder": "ds2",
    "encoder_conf": {"conv_channels": [16], "conv_kernels": [[11, 21]], "conv_strides": [[3, 2]],
                     "rnn_type": "gru", "rnn_layers": 2, "rnn_hidden": 96, "bidirectional": True, "fc_layers": [],
                     "rnn_batch_norm": False, "lookahead": 0, "merge": "sum"},
    "cmvn": "global",
    "optim": "adamw",
    "optim_conf": {"lr": 0.003},
    "scheduler": "cosine",
    "scheduler_conf": {"warmup_steps": 20, "min_lr": 0.0001},
    "max_epochs": 35,
    "batch_frames": 6000,
    "log_every_steps": 10,
}

TINY_LM = {
    "task": "lm", "lm": "lstm", "lm_conf": {"embed_dim": 16, "hidden": 32, "num_layers": 1},
    "optim": "adam", "optim_conf": {"lr": 0.01}, "max_epochs": 2, "batch_frames": 2000,
}


NUM = {"dev": 8, "test": 16}
ARGS = ["--num-train", "240", "--num-dev", str(NUM["dev"]), "--num-test", str(NUM["test"]), "--nj", "2",
        "--train-config", "conf/tiny.yaml",
        "--lm-config", "conf/lm_tiny.yaml"]


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    work, env = mini_workdir(tmp_path_factory, "mini")
    with open(work / "conf" / "tiny.yaml", "w") as f:
        yaml.safe_dump(TINY_MODEL, f)
    with open(work / "conf" / "lm_tiny.yaml", "w") as f:
        yaml.safe_dump(TINY_LM, f)
    proc = subprocess.run(
        ["bash", "run.sh", *ARGS],
        cwd=work, env=env, capture_output=True, text=True)
    return work, env, proc


def test_every_stage_runs_and_writes_its_outputs(recipe):
    work, _, proc = recipe
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for n in range(8):
        assert re.search(rf"stage {n} \(\w+\): done", proc.stdout), f"stage {n} did not finish"
    for s in ("train", "dev", "test"):
        assert (work / "data" / s / "feats.scp").is_file()
    assert (work / "data/lang/tokens.txt").is_file()
    assert (work / "exp/tiny/model.pt").is_file()
    assert (work / "exp/tiny/config.yaml").is_file()
    for s in ("dev", "test"):
        for mode in ("greedy", "beam", "rescore"):
            hyp = (work / f"exp/tiny/decode_{s}/{mode}/text").read_text().splitlines()
            assert len(hyp) == NUM[s], (s, mode)
            assert (work / f"exp/tiny/decode_{s}/{mode}/scoring/per_utt.txt").is_file()
    results = (work / "RESULTS.md").read_text()
    for mode in ("greedy", "beam", "rescore"):
        assert re.search(rf"\| tiny {mode} \| test \| \d+\.\d\d \|", results), results
    assert (work / "data/lm/ngram.arpa").is_file()
    decoding = yaml.safe_load((work / "exp/tiny/decode.yaml").read_text())
    assert decoding["decoder"] == "beam" and decoding["lm"].endswith("ngram.bin")
    assert "== RESULTS.md" in proc.stdout


def test_training_loss_decreased(recipe):
    work, _, _ = recipe
    log = (work / "exp/tiny/train.log").read_text()
    losses = [float(m) for m in re.findall(r"step \d+: loss ([\d.]+)", log)]
    assert len(losses) >= 3
    assert losses[-1] < losses[0]


def test_the_model_transcribes_the_test_set(recipe):
    """Not only "loss fell": every test utterance gets a transcript and greedy CER is well below
    chance (measured 32 % with this model; an empty or constant output scores about 100 %)."""
    work, _, _ = recipe
    hyps = dict(line.partition(" ")[::2] for line in
                (work / "exp/tiny/decode_test/greedy/text").read_text().splitlines())
    refs = (work / "data/test/text").read_text().splitlines()
    assert len(hyps) == len(refs) == NUM["test"]
    assert all(h.strip() for h in hyps.values()), hyps
    wer = (work / "exp/tiny/decode_test/greedy/scoring/wer.txt").read_text()
    cer = float(re.search(r"%CER ([\d.]+)", wer).group(1))
    assert cer < 50.0, wer


def test_rerun_skips_complete_stages(recipe):
    work, env, _ = recipe
    proc = subprocess.run(["bash", "run.sh", *ARGS], cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("skipped") == 8, proc.stdout


def test_changed_option_reruns_its_stage(recipe):
    work, env, _ = recipe
    proc = subprocess.run(["bash", "run.sh", "--stage", "3", "--stop-stage", "4", *ARGS[:6],
                           "--train-config", "conf/tiny.yaml", "--train-args",
                           "--max_epochs 1"], cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "stage 3 (tokens): outputs complete" in proc.stdout
    assert "stage 4 (train): start" in proc.stdout


def test_decode_computes_features_from_audio_when_there_is_no_feats_scp(recipe, tmp_path):
    """Without feats.scp the model's own front end computes the features: the same log-probabilities
    and transcripts as from the dumped features (decoded with the same batches)."""
    import numpy as np

    from s2s.decode.logprobs import load_all

    work, env, _ = recipe
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("wav.scp", "text", "utt2spk", "spk2utt"):
        shutil.copy(work / "data/test" / name, raw / name)
    for data, out in ((raw, tmp_path / "from_audio"), (work / "data/test", tmp_path / "from_feats")):
        subprocess.run([sys.executable, "-m", "s2s.bin.decode", "--model", str(work / "exp/tiny/model.pt"),
                        "--data", str(data), "--out", str(out), "--dump-logprobs"],
                       cwd=work, env=env, check=True, capture_output=True)
    assert (tmp_path / "from_audio/text").read_text() == (tmp_path / "from_feats/text").read_text()
    a, b = load_all(tmp_path / "from_audio/logprobs.scp"), load_all(tmp_path / "from_feats/logprobs.scp")
    assert sorted(a) == sorted(b) and len(a) == NUM["test"]
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=1e-5)


def test_transcribe_prints_one_line_per_file_for_any_rate_and_format(recipe, tmp_path):
    work, env, _ = recipe
    wav = tmp_path / "a.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "turn on the lights"], check=True)
    flac8k = tmp_path / "b.flac"
    subprocess.run(["sox", str(wav), "-r", "8000", str(flac8k)], check=True)
    proc = subprocess.run([sys.executable, "-m", "s2s.bin.transcribe", str(work / "exp/tiny/model.pt"),
                           str(wav), str(flac8k)], cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(wav), str(flac8k)]


def test_transcribe_missing_file_is_a_clear_error(recipe, tmp_path):
    work, env, _ = recipe
    proc = subprocess.run([sys.executable, "-m", "s2s.bin.transcribe", str(work / "exp/tiny/model.pt"),
                           str(tmp_path / "nope.wav")], cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 1 and "nope.wav" in proc.stderr


def test_unknown_recipe_option_is_an_error(recipe):
    work, env, _ = recipe
    proc = subprocess.run(["bash", "run.sh", "--no-such-option", "1"], cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode != 0 and "no-such-option" in proc.stderr


def test_finetune_example_fills_its_table(recipe):
    """local/finetune.sh end to end with a few steps: three models, their test WERs in RESULTS.md,
    and the fine-tuned one started from the base (its log says the tensors were copied)."""
    work, env, _ = recipe
    proc = subprocess.run(["bash", "local/finetune.sh", "--base-steps", "4", "--ft-steps", "2",
                           "--train-config", "conf/tiny.yaml"], cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = (work / "RESULTS.md").read_text().split("<!-- finetune: begin -->")[1].split("<!-- finetune: end -->")[0]
    rows = [line for line in table.splitlines() if line.startswith("| base") or line.startswith("| from scratch")]
    assert len(rows) == 3 and all(re.search(r"\| \d+\.\d\d \|$", r) for r in rows), table
    assert "init_from exp/ft_base/model.pt: " in (work / "exp/ft_tuned/train.log").read_text()
    assert "init_from" not in (work / "exp/ft_scratch/train.log").read_text()


def test_augment_study_adds_its_row_next_to_the_default(recipe):
    """local/augment.sh trains with on-the-fly speed perturbation (audio read, features computed
    in the loader) and puts its dev/test WER next to the default run's."""
    work, env, _ = recipe
    # the recipe's model was trained with conf/tiny.yaml under exp/tiny; the study compares with exp/train
    train = work / "exp" / "train"
    if not train.exists():
        train.symlink_to(work / "exp" / "tiny")
    proc = subprocess.run(["bash", "local/augment.sh", "--name", "speed", "--noise-conf",
                           "[{type: speed, factors: [0.9, 1.1]}]", "--train-config", "conf/tiny.yaml",
                           "--train-args", "--max_steps 3"], cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = (work / "RESULTS.md").read_text().split("<!-- augment: begin -->")[1].split("<!-- augment: end -->")[0]
    assert re.search(r"\| train \(the default: conf/train.yaml, run.sh stage 5\) \| as in conf/train.yaml \| "
                     r"as in conf/train.yaml \| - \| \d+\.\d\d \| \d+\.\d\d \|", table), table
    assert re.search(r"\| train_speed \| `\[\{type: speed, factors: \[0.9, 1.1\]\}\]` \| `null` \| \d+ \| "
                     r"\d+\.\d\d \| \d+\.\d\d \|", table), table
    config = yaml.safe_load((work / "exp/train_speed/config.yaml").read_text())
    assert config["noise_conf"] == [{"type": "speed", "factors": [0.9, 1.1]}]


def test_attention_example_starts_from_the_ctc_model_and_fuses_lms(recipe):
    """local/attention.sh with a few steps: a joint CTC-attention model initialised from the CTC
    model (exp/train), its row next to the CTC model's, then decoded again with the recipe's word
    4-gram and neural LM fused (rows of their own), and a missing LM named."""
    work, env, _ = recipe
    train = work / "exp" / "train"
    if not train.exists():
        train.symlink_to(work / "exp" / "tiny")
    conf = dict(TINY_MODEL, decoder="transformer", ctc_weight=0.3,
                decoder_conf={"d_model": 32, "num_heads": 2, "num_layers": 1, "ff_dim": 64},
                init_from="exp/train/model.pt", init_conf={"map": {"head.": "ctc."}})
    (work / "conf" / "jca_tiny.yaml").write_text(yaml.safe_dump(conf))
    base = ["bash", "local/attention.sh", "--train-config", "conf/jca_tiny.yaml", "--beam", "2", "--ctc-weight", "0.5"]
    proc = subprocess.run([*base, "--train-args", "--max_steps 2"], cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert re.search(r"init_from exp/train/model.pt: \d+ of \d+ tensors copied",
                     (work / "exp/jca_tiny/train.log").read_text())
    for extra in (["--lm", "data/lm/ngram.bin", "--lm-weight", "1.0", "--word-score", "1"],
                  ["--lm", "exp/lm_tiny/model.pt", "--lm-weight", "0.3", "--tag", "attention_nlm"]):
        proc = subprocess.run([*base, "--skip-train", "true", *extra], cwd=work, env=env, capture_output=True,
                              text=True)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = (work / "RESULTS.md").read_text().split("<!-- attention: begin -->")[1].split("<!-- attention: end -->")[0]
    wers = r"\| \d+\.\d\d \| \d+\.\d\d \|"
    assert re.search(r"\| train \(CTC\) \| conf/train.yaml \| greedy \| - " + wers, table), table
    assert re.search(r"\| jca_tiny \| conf/jca_tiny.yaml \| attention beam 2, ctc_weight 0.5 \| \d+ " + wers, table)
    assert re.search(r"\| jca_tiny \(attention_lm\) \| conf/jca_tiny.yaml \| attention beam 2, ctc_weight 0.5, "
                     r"data/lm/ngram.bin weight 1.0 word score 1 \| - " + wers, table), table
    assert re.search(r"\| jca_tiny \(attention_nlm\) \| conf/jca_tiny.yaml \| attention beam 2, ctc_weight 0.5, "
                     r"exp/lm_tiny/model.pt weight 0.3 \| - " + wers, table), table
    for s in ("dev", "test"):
        assert len((work / f"exp/jca_tiny/decode_{s}/attention_lm/text").read_text().splitlines()) == NUM[s]
    proc = subprocess.run([*base, "--skip-train", "true", "--lm", "data/lm/nope.bin"], cwd=work, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "data/lm/nope.bin not found" in proc.stderr


TINY_TACOTRON = {"task": "tts", "model_conf": {
    "reduction": 3, "embed_dim": 32, "encoder_channels": 32, "encoder_lstm_dim": 32, "speaker_dim": 8,
    "attention_rnn_dim": 48, "attention_dim": 32, "location_filters": 4, "location_kernel": 9, "prenet_dims": [32, 32],
    "decoder_rnn_dim": 48, "postnet_channels": 32, "postnet_layers": 2, "gst_tokens": 4, "gst_token_dim": 16,
    "gst_heads": 2, "gst_ref_filters": [8, 8], "gst_ref_dim": 8, "normalize_mels": True, "max_decoder_steps": 60},
    "trim_silence_db": 40, "guided_attn_weight": 2.0, "optim": "adam", "optim_conf": {"lr": 0.003},
    "batch_frames": 3000, "max_epochs": 1, "log_every_steps": 5}
TINY_CENTAUR = dict(TINY_TACOTRON, model="centaur", model_conf={
    "reduction": 3, "embed_dim": 32, "encoder_blocks": 2, "dim": 32, "attention_blocks": 1, "conv_blocks": 1,
    "prenet_dims": [32, 32], "speaker_dim": 8, "normalize_mels": True, "max_decoder_steps": 60})
TINY_FASTSPEECH = dict(TINY_TACOTRON, model="fastspeech", mel_loss="l1", model_conf={
    "embed_dim": 32, "encoder_blocks": 2, "dim": 32, "decoder_blocks": 2, "duration_hidden": 32,
    "postnet_channels": 32, "postnet_layers": 2, "speaker_dim": 8, "gst_tokens": 4, "gst_token_dim": 16,
    "gst_heads": 2, "gst_ref_filters": [8, 8], "gst_ref_dim": 8, "normalize_mels": True})
TINY_FASTPITCH = dict(TINY_FASTSPEECH, model_conf=dict(TINY_FASTSPEECH["model_conf"], pitch=True))
TINY_FASTPITCH_ALIGNER = dict(TINY_FASTSPEECH, model_conf=dict(TINY_FASTSPEECH["model_conf"], pitch=True, aligner=True,
                                                               aligner_dim=16))
TINY_ISTFT = {"task": "vocoder", "vocoder": "istft_vocoder", "model_conf": {"n_fft": 800, "dim": 16, "blocks": 1},
              "segment_frames": 16, "batch_frames": 512, "max_epochs": 1, "optim": "adam", "log_every_steps": 5}


def test_speech_synthesis_stages_train_measure_and_run_the_experiment(recipe):
    """Stages 8-10 with tiny models: a Tacotron 2 with style tokens, a Centaur and an iSTFT vocoder
    trained on the corpus's training voices (alignment plots), then durations and pitch from the
    Tacotron 2 and a FastSpeech and a FastPitch trained on them, held-out sentences rendered by the
    engines and by each TTS with Griffin-Lim and the vocoder and transcribed (the RESULTS.md table),
    then the synthetic-speech experiment with replacing and added rows."""
    work, env, _ = recipe
    shutil.copy(MINI / "conf" / "tts_logmel.yaml", work / "conf" / "tts_logmel.yaml")
    for name, conf in (("tacotron_tiny", TINY_TACOTRON), ("centaur_tiny", TINY_CENTAUR), ("istft_tiny", TINY_ISTFT),
                       ("fastspeech_tiny", TINY_FASTSPEECH), ("fastpitch_tiny", TINY_FASTPITCH),
                       ("fastpitch_aligner_tiny", TINY_FASTPITCH_ALIGNER)):
        (work / "conf" / f"{name}.yaml").write_text(yaml.safe_dump(conf))
    proc = subprocess.run(["bash", "run.sh", *ARGS, "--stage", "8", "--stop-stage", "10",
                           "--tts-configs", "conf/tacotron_tiny.yaml conf/centaur_tiny.yaml",
                           "--tts-student-configs",
                           "conf/fastspeech_tiny.yaml conf/fastpitch_tiny.yaml conf/fastpitch_aligner_tiny.yaml",
                           "--vocoder-configs", "conf/istft_tiny.yaml", "--tts-args", "--num-sentences 2 --num-voices 2",
                           "--syn-args",
                           "--train-config conf/tiny.yaml --steps 2 --num-syn 8 --total 16 --ratios 50:50 --added 50:50"],
                          cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for exp in ("tacotron_tiny", "centaur_tiny", "istft_tiny", "fastspeech_tiny", "fastpitch_tiny",
                "fastpitch_aligner_tiny"):
        assert (work / "exp" / exp / "model.pt").is_file()
    for s in ("train", "valid"):  # frames and pitch per symbol, from the first TTS model (the teacher)
        assert (work / f"data/tts_{s}/durations").is_file() and (work / f"data/tts_{s}/pitch").is_file()
        assert (work / f"data/tts_{s}/f0").is_file()   # each frame's F0, for the student with its own aligner
        assert (work / f"exp/tts_data/durations_{s}.from").read_text().split() == [
            "exp/tacotron_tiny/model.pt", "40"]
    assert list((work / "exp/tacotron_tiny/plots").glob("alignment_*.png"))
    results = (work / "RESULTS.md").read_text()
    table = results.split("<!-- tts-intelligibility: begin")[1].split("<!-- tts-intelligibility: end -->")[0]
    wer = r"\| \d+\.\d\d \| \d+\.\d\d \|"
    assert re.search(r"\| engines \(flite, espeak-ng\) \| - " + wer + r" - \|", table), table
    for model in ("Tacotron 2", "Centaur", "FastSpeech", "FastPitch", "FastPitch \\(own aligner\\)"):
        for vocoder in ("Griffin-Lim \\(32 iterations\\)", "iSTFT vocoder"):
            assert re.search(rf"\| {model} \| {vocoder} " + wer + r" \d+\.\d\d \| \d", table), table
    assert re.search(r"\| engine's mels \(copy synthesis\) \| iSTFT vocoder " + wer, table), table
    assert "2 held-out sentences" in table and "4 utterances per row" in table
    syn = results.split("<!-- syn-ratio: begin")[1].split("<!-- syn-ratio: end -->")[0]
    assert "(exp/fastspeech_tiny/model.pt, vocoder exp/istft_tiny/model.pt)" in syn, syn  # the first student speaks
    assert re.search(r"\| replacing \| 50/50 \| \d+ \(.*\) \| \d+ \(.*\) \| 2 " + wer, syn), syn
    assert re.search(r"\| added \| 50/50 \| \d+ \(.*\) \| \d+ \(.*\) \| 2 " + wer, syn), syn
    def sentences(path):
        return {line.split(" ", 1)[1] for line in (work / path).read_text().splitlines()}

    assert len(sentences("data/syn_text/text")) == 8  # new sentences: none of train, dev or test
    assert not sentences("data/syn_text/text") & (sentences("data/train/text") | sentences("data/test/text"))
