"""s2s-transcribe: many inputs of every kind, bad files reported while the good ones are transcribed,
formats, decoding settings beside the model, beam search equal to s2s.bin.decode."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from asr_models import random_checkpoint, speak

ROOT = Path(__file__).resolve().parents[1]
# Wide pruning: the random-weight model's posteriors are flat, so the default token beam finds no word.
WIDE = ["--token-beam", "40", "--beam-threshold", "30"]


def transcribe(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "s2s.bin.transcribe", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("transcribe")
    model = random_checkpoint(d / "model.pt", "ds2")
    audio = d / "audio"
    audio.mkdir()
    speak(audio / "a.wav", "turn on the lights")
    speak(audio / "b.wav", "what is the weather like today", voice="en-gb")
    speak(audio / "c8k.flac", "set an alarm for seven", rate=8000)
    return d, model, audio


def test_bad_inputs_are_reported_and_the_good_file_is_transcribed(setup, tmp_path):
    _, model, audio = setup
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 16000)
    short = tmp_path / "short.wav"
    sf.write(short, 0.1 * np.ones(160, np.float32), 16000)  # 10 ms
    text = tmp_path / "notes.wav"
    text.write_text("this is a text file, not a wav file\n" * 20)
    proc = transcribe(model, empty, short, text, audio / "a.wav", tmp_path / "missing.wav")
    assert proc.returncode == 1
    assert [line.split("\t")[0] for line in proc.stdout.splitlines()] == [str(audio / "a.wav")]
    err = proc.stderr
    assert f"s2s-transcribe: {empty}: contains no audio" in err
    assert f"s2s-transcribe: {short}: too short to transcribe: 0.010 s" in err
    assert f"s2s-transcribe: {text}: not readable audio" in err
    assert f"s2s-transcribe: {tmp_path / 'missing.wav'}: no such file" in err
    assert "4 of 5 inputs could not be transcribed" in err and "Traceback" not in err


def test_a_folder_a_wav_scp_and_a_data_dir_are_inputs(setup, tmp_path):
    _, model, audio = setup
    by_files = transcribe(model, audio / "a.wav", audio / "b.wav", audio / "c8k.flac")
    folder = transcribe(model, audio)
    assert folder.returncode == 0 and by_files.returncode == 0, folder.stderr
    assert folder.stdout == by_files.stdout and len(folder.stdout.splitlines()) == 3
    data = tmp_path / "data"
    data.mkdir()
    (data / "wav.scp").write_text(f"utt1 {audio / 'a.wav'}\nutt2 sox {audio / 'b.wav'} -t wav - |\n")
    proc = transcribe(model, data)
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split("\t") for line in proc.stdout.splitlines())
    files = dict(line.split("\t") for line in by_files.stdout.splitlines())
    assert lines == {"utt1": files[str(audio / "a.wav")], "utt2": files[str(audio / "b.wav")]}
    scp = transcribe(model, data / "wav.scp")
    assert scp.stdout == proc.stdout


def test_formats_and_timestamps(setup, tmp_path):
    _, model, audio = setup
    js = transcribe(model, audio / "a.wav", "--format", "json", "--timestamps")
    assert js.returncode == 0, js.stderr
    obj = json.loads(js.stdout)
    assert obj["file"] == str(audio / "a.wav") and obj["duration"] > 0.5
    assert " ".join(w["word"] for w in obj["words"]) == obj["text"]
    assert all(0 <= w["start"] < w["end"] <= obj["duration"] + 0.05 and 0 <= w["conf"] <= 1 for w in obj["words"])
    proc = transcribe(model, audio, "--format", "srt", "--out-dir", tmp_path / "subs")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "subs").iterdir()) == ["a.srt", "b.srt", "c8k.srt"]
    assert (tmp_path / "subs" / "a.srt").read_text().startswith("1\n00:00:0")
    refused = transcribe(model, audio, "--format", "vtt")
    assert refused.returncode == 1 and "--out-dir" in refused.stderr


@pytest.fixture(scope="module")
def lm(setup):
    from s2s.decode.ngram import train_ngram

    d, _, _ = setup
    corpus = d / "corpus.txt"
    corpus.write_text("turn on the lights\nturn off the lights\nwhat is the weather like today\n"
                      "set an alarm for seven\nwhat time is it\n" * 5)
    return train_ngram(d / "lm", order=3, corpora=[str(corpus)], binary=False)["arpa"]


def test_beam_search_with_an_lm_equals_s2s_decode(setup, lm, tmp_path):
    _, model, audio = setup
    data = tmp_path / "data"
    data.mkdir()
    (data / "wav.scp").write_text(f"a {audio / 'a.wav'}\nb {audio / 'b.wav'}\n")
    (data / "text").write_text("a x\nb x\n")
    dec = subprocess.run([sys.executable, "-m", "s2s.bin.decode", "--model", str(model), "--data", str(data),
                          "--out", str(tmp_path / "dec"), "--decoder", "beam", "--lm", str(lm), "--lm-weight", "1.5",
                          "--word-score", "6.0", *WIDE], capture_output=True, text=True, cwd=ROOT)
    assert dec.returncode == 0, dec.stderr
    tr = transcribe(model, data, "--decoder", "beam", "--lm", lm, "--lm-weight", "1.5", "--word-score", "6.0", *WIDE)
    assert tr.returncode == 0, tr.stderr
    decoded = dict(line.split(" ", 1) if " " in line else (line, "") for line in
                   (tmp_path / "dec" / "text").read_text().splitlines())
    assert dict(line.split("\t") for line in tr.stdout.splitlines()) == decoded
    words = {w for t in decoded.values() for w in t.split()}
    assert words and words <= {"turn", "on", "off", "the", "lights", "what", "is", "weather", "like", "today",
                               "set", "an", "alarm", "for", "seven", "time", "it"}


def test_decoding_settings_beside_the_model_are_the_default(setup, lm, tmp_path):
    from s2s.decode.settings import write_decoding

    _, model, audio = setup
    here = tmp_path / "exp"
    here.mkdir()
    (here / "model.pt").write_bytes(Path(model).read_bytes())
    write_decoding(here / "model.pt", {"decoder": "beam", "lm": str(lm), "lm_weight": 1.5, "word_score": 6.0})
    by_default = transcribe(here / "model.pt", audio / "b.wav")
    explicit = transcribe(model, audio / "b.wav", "--decoder", "beam", "--lm", lm, "--lm-weight", "1.5",
                          "--word-score", "6.0")
    greedy = transcribe(here / "model.pt", audio / "b.wav", "--decoder", "greedy")
    assert by_default.returncode == 0, by_default.stderr
    assert by_default.stdout == explicit.stdout != greedy.stdout
