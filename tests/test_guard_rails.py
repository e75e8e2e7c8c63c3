"""Guard rails a new user meets: s2s-train --help explains every config key, a misspelled key or
component name gets "did you mean", component errors name the YAML file and line, unusual
characters entering the vocabulary are counted in a warning, and decoding refuses dumped
features from another front end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from s2s.bin import train as train_bin
from s2s.tasks.base import TASKS
from s2s.tasks.launch import full_defaults, key_help

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("task", ["asr", "lm", "classify", "tts"])
def test_every_config_key_of_every_task_is_explained(task):
    import s2s.tasks  # noqa: F401

    assert task in TASKS.names()
    helps = key_help(task)
    missing = [k for k in full_defaults(task) if not helps.get(k, "").strip()]
    assert not missing, f"task {task}: no help for {missing}"


def test_train_help_lists_keys_meanings_defaults_and_choices(capsys):
    with pytest.raises(SystemExit) as e:
        train_bin.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for key in full_defaults("asr"):
        assert f"\n  {key}: " in out, key
    assert "  max_epochs: 10\n      epochs to train" in out
    assert "(one of: convs2s, ds2, jasper, quartznet, rnn, transformer," in out and "wav2letter)" in out
    with pytest.raises(SystemExit):
        train_bin.main(["--task", "lm", "--help"])
    out = capsys.readouterr().out
    assert "config keys of task 'lm'" in out and "\n  lm_conf: {}" in out


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_misspelled_key_gets_did_you_mean_with_file_and_line(tmp_path, capsys):
    cfg = write(tmp_path / "train.yaml", "task: asr\nencoder: ds2\nmax_epoch: 3\n")
    assert train_bin.main(["--config", str(cfg), "--exp-dir", str(tmp_path / "exp"), "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert f"{cfg}:3: unknown config key 'max_epoch'; did you mean 'max_epochs'?" in err
    assert not (tmp_path / "exp").exists()


def test_component_errors_name_the_yaml_file_and_line_or_the_override(tmp_path, capsys):
    from toy_asr import make_toy_corpus

    corpus = make_toy_corpus(tmp_path / "toy", n_train=4, n_valid=2)
    cfg = write(tmp_path / "train.yaml", "task: asr\nencoder: jasper\nencoder_conf:\n  blockz: []\n")
    args = ["--config", str(cfg), "--dry-run", "--train_data", str(corpus["train"]), "--token_list",
            str(corpus["lang"]), "--cmvn", "none"]
    assert train_bin.main(args) == 1
    err = capsys.readouterr().err
    assert f"{cfg}:4: encoder_conf (encoder 'jasper'): unknown key 'blockz'" in err
    assert "did you mean 'blocks'?" in err
    assert train_bin.main([*args, "--encoder", "quartznett"]) == 1
    err = capsys.readouterr().err
    assert "command-line override: encoder: unknown encoder 'quartznett'" in err and "did you mean 'quartznet'?" in err


def test_unusual_characters_entering_the_vocabulary_are_counted_in_a_warning(tmp_path):
    text = write(tmp_path / "text", "u1 turn on the lights\nu2 It's 42 degrees!\nu3 well-known places, Paris\n")
    p = subprocess.run([sys.executable, "-m", "s2s.bin.prepare_tokens", "--text", str(text), "--out",
                        str(tmp_path / "lang"), "--kind", "char"], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert "2 digit(s) in the transcripts ('4' 1, '2' 1)" in p.stderr
    assert "2 punctuation mark(s) or symbol(s) ('!' 1, ',' 1)" in p.stderr  # word-internal ' and - are fine
    assert "2 upper-case letter(s) in mostly lower-case text ('I' 1, 'P' 1)" in p.stderr
    clean = write(tmp_path / "clean", "u1 turn on the lights\nu2 it's forty two degrees\n")
    p = subprocess.run([sys.executable, "-m", "s2s.bin.prepare_tokens", "--text", str(clean), "--out",
                        str(tmp_path / "lang2"), "--kind", "char"], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0 and "warning" not in p.stderr
    upper = write(tmp_path / "upper", "u1 TURN ON THE LIGHTS\n")  # LibriSpeech style: one case, no warning
    p = subprocess.run([sys.executable, "-m", "s2s.bin.prepare_tokens", "--text", str(upper), "--out",
                        str(tmp_path / "lang3"), "--kind", "char"], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0 and "warning" not in p.stderr


def test_decoding_refuses_dumped_features_from_another_front_end(tmp_path):
    from asr_models import FBANK, random_checkpoint, speak

    from s2s.data.datadir import write_table
    from s2s.data.dump import dump_features
    from s2s.data.features import build_frontend

    model = random_checkpoint(tmp_path / "model.pt", "quartznet", frontend=FBANK)
    for name, conf in (("same", FBANK), ("other", {**FBANK, "frame_shift_ms": 12.5})):
        data = tmp_path / name
        data.mkdir()
        wav = speak(tmp_path / f"{name}.wav", "hello there")
        write_table(data / "wav.scp", {"u1": str(wav)})
        write_table(data / "text", {"u1": "hello there"})
        write_table(data / "utt2spk", {"u1": "u1"})
        write_table(data / "spk2utt", {"u1": "u1"})
        frontend = build_frontend(conf)
        dump_features(frontend, data, tmp_path / f"feats_{name}")
        (data / "feats.scp").write_text((tmp_path / f"feats_{name}" / "feats.1.scp").read_text())
        with open(data / "frontend.yaml", "w") as f:
            yaml.safe_dump(frontend.conf, f)
    ok = subprocess.run([sys.executable, "-m", "s2s.bin.decode", "--model", str(model), "--data", str(tmp_path / "same"),
                         "--out", str(tmp_path / "dec_same")], capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([sys.executable, "-m", "s2s.bin.decode", "--model", str(model), "--data",
                          str(tmp_path / "other"), "--out", str(tmp_path / "dec_other")],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1
    assert f"{tmp_path / 'other' / 'frontend.yaml'}: the features in" in bad.stderr
    assert "frame_shift_ms: 12.5 vs 10.0" in bad.stderr and "recompute them" in bad.stderr
    assert not (tmp_path / "dec_other" / "text").exists()


def test_decode_settings_file_supplies_defaults_and_explicit_options_win(tmp_path):
    from s2s.bin.decode import get_parser
    from s2s.decode.settings import parse_with_settings

    (tmp_path / "lm.bin").write_bytes(b"x")
    settings = write(tmp_path / "decode.yaml", "decoder: beam\nlm: lm.bin\nlm_weight: 1.25\nword_score: 0.5\n")
    a = parse_with_settings(get_parser(), ["--out", "o", "--settings", str(settings), "--word-score", "2"])
    assert a.decoder == "beam" and a.lm == str(tmp_path / "lm.bin")
    assert a.lm_weight == 1.25 and a.word_score == 2.0
