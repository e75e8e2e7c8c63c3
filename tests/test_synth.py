"""s2s.synth: the three engines, speaker ids, resampling, text normalisation, the synthesize entry point."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from s2s.data.datadir import read_table
from s2s.data.text import normalize_text, number_to_words
from s2s.errors import S2SError
from s2s.synth import get_synthesizer, parse_speaker, resample

ROOT = Path(__file__).resolve().parents[1]
SPEAKERS = {
    "espeak-ng": "espeak-ng_en-us+m3_p045_s160",  # writes 22050 Hz
    "flite": "flite_kal_f095_d100",                # kal writes 8 kHz
    "festival": "festival_kal_diphone_f000_d100",  # writes 16 kHz
}


@pytest.mark.parametrize("backend", sorted(SPEAKERS))
@pytest.mark.parametrize("sample_rate", [16000, 22050])
def test_each_backend_speaks_at_the_requested_rate(backend, sample_rate):
    synth = get_synthesizer(backend)
    waves = synth.synthesize(["turn on the kitchen lights", "seven oh three"], SPEAKERS[backend], sample_rate)
    assert len(waves) == 2
    for wav in waves:
        assert wav.dtype == np.float32 and wav.ndim == 1
        seconds = len(wav) / sample_rate
        assert 0.4 < seconds < 5.0  # a few words at the requested rate, not at the engine's
        assert np.sqrt(np.mean(wav**2)) > 0.01  # not silence
        assert np.abs(wav).max() <= 1.0


def test_empty_text_gives_empty_audio():
    waves = get_synthesizer("espeak-ng").synthesize(["", "hello"], SPEAKERS["espeak-ng"])
    assert len(waves[0]) == 0 and len(waves[1]) > 0


@pytest.mark.parametrize("backend", sorted(SPEAKERS))
def test_speakers_are_listed_and_ids_round_trip(backend):
    synth = get_synthesizer(backend)
    speakers = synth.speakers()
    assert speakers and speakers == sorted(set(speakers))
    for spk_id in speakers[:: max(1, len(speakers) // 20)]:
        spk = synth.speaker(spk_id)
        assert spk.backend == backend and spk.id == spk_id
        assert " " not in spk_id and ":" not in spk_id
    assert SPEAKERS[backend] in speakers or synth.speaker(SPEAKERS[backend]).id == SPEAKERS[backend]


def test_pitch_and_rate_change_the_audio():
    synth = get_synthesizer("flite")
    base, slow, high = (synth.synthesize(["turn on the lights"], s)[0]
                        for s in ("flite_slt_f175_d100", "flite_slt_f175_d130", "flite_slt_f210_d100"))
    assert len(slow) > 1.15 * len(base)
    assert len(high) != len(base) or not np.allclose(high, base)


@pytest.mark.parametrize("bad", ["flite_kal", "espeak_en-us_p045_s160", "espeak-ng_en-us+m3_p145_s160",
                                 "flite_kal_x095_d100"])
def test_malformed_speaker_ids_are_rejected(bad):
    with pytest.raises(S2SError, match="speaker"):
        parse_speaker(bad)


def test_unknown_voice_is_rejected_with_the_installed_ones():
    with pytest.raises(S2SError, match="installed: .*slt"):
        get_synthesizer("flite").speaker("flite_bob_f100_d100")


@pytest.mark.parametrize("backend,package", [("flite", "flite"), ("espeak-ng", "espeak-ng"),
                                             ("festival", "festival")])
def test_missing_engine_names_the_install_command(backend, package, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no engine on PATH
    with pytest.raises(S2SError, match=f"apt-get install {package}"):
        get_synthesizer(backend)


def test_unknown_backend_lists_the_choices():
    with pytest.raises(S2SError, match="flite"):
        get_synthesizer("sam")


def test_batched_resampling_matches_one_at_a_time():
    rng = np.random.default_rng(0)
    t = np.arange(30000) / 22050
    waves = [(0.5 * np.sin(2 * np.pi * 440 * t[:n])).astype(np.float32) for n in (22050, 12345, 30000)]
    waves.append((0.1 * rng.standard_normal(5000)).astype(np.float32))
    together = resample(waves, 22050, 16000)
    for wav, out in zip(waves, together):
        alone = resample([wav], 22050, 16000)[0]
        assert len(out) == round(len(wav) * 16000 / 22050)
        np.testing.assert_allclose(out, alone, atol=1e-2)
    expected = 0.5 * np.sin(2 * np.pi * 440 * np.arange(len(together[0])) / 16000)
    np.testing.assert_allclose(together[0][100:-100], expected[100:-100], atol=1e-2)


# -- text normalisation ---------------------------------------------------------------------

@pytest.mark.parametrize("n,words", [(0, "zero"), (13, "thirteen"), (40, "forty"), (105, "one hundred five"),
                                     (2023, "two thousand twenty three"),
                                     (1_000_001, "one million one")])
def test_number_to_words(n, words):
    assert number_to_words(n) == words


@pytest.mark.parametrize("raw,text", [
    ("Set an alarm for 7:30, please!", "set an alarm for seven thirty please"),
    ("Dim to 40%", "dim to forty percent"),
    ("the 21st of May", "the twenty first of may"),
    ("It costs $5.50", "it costs five dollars fifty"),
    ("pi is 3.14", "pi is three point one four"),
    ("call 007", "call zero zero seven"),
    ("-5 degrees", "minus five degrees"),
    ("1,000 people", "one thousand people"),
    ("Don’t stop “now”", "don't stop now"),
    ("rock&roll", "rock and roll"),
])
def test_normalize_numbers_and_punctuation(raw, text):
    assert normalize_text(raw).text == text


def test_normalize_transliterates_or_drops_non_ascii_and_counts_it():
    norm = normalize_text("Café naïve Straße 東京 tower 😀")
    assert norm.text == "cafe naive strasse tower"
    assert norm.changes["transliterated"] == 3
    assert norm.changes["dropped"] == 3


def test_normalize_counts_changes_and_leaves_clean_text_alone():
    norm = normalize_text("Turn on 2 lights.")
    assert norm.changes["numbers"] == 1 and norm.changes["punctuation"] == 1
    clean = normalize_text("turn on the lights")
    assert clean.text == "turn on the lights" and not clean.changed


def test_normalize_never_raises():
    rng = np.random.default_rng(1)
    for _ in range(300):
        chars = rng.integers(0, 0x2FFFF, size=int(rng.integers(0, 40)))
        raw = "".join(chr(c) for c in chars if not 0xD800 <= c < 0xE000) + " 9" * int(rng.integers(0, 3))
        out = normalize_text(raw).text
        assert all(w.replace("'", "").isalpha() and w.isascii() and w == w.lower() for w in out.split())
    assert normalize_text("9" * 40).text.split() == ["nine"] * 40


# -- python -m s2s.bin.synthesize -----------------------------------------------------------

def _synthesize(args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "s2s.bin.synthesize", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)


def test_synthesize_writes_a_kaldi_data_dir(tmp_path):
    (tmp_path / "text").write_text("a1 Set a timer for 5 minutes!\nb2 ???\nc3 hello world\n")
    speakers = ["espeak-ng_en-us+f2_p060_s170", "espeak-ng_en-us+m1_p040_s150"]
    res = _synthesize(["espeak-ng", "--speakers", *speakers, "--text", "text",
                       "--out-dir", "syn"], tmp_path)
    assert res.returncode == 0, res.stderr
    assert "skipped 1" in res.stderr and "1 numbers" in res.stderr
    out = tmp_path / "syn"
    text = read_table(out / "text", check_sorted=True)
    # Lines left after normalisation take the speakers in turn: a1 -> first, c3 -> second.
    assert text == {f"{speakers[0]}-a1": "set a timer for five minutes", f"{speakers[1]}-c3": "hello world"}
    utt2spk = read_table(out / "utt2spk", check_sorted=True)
    assert all(utt.startswith(spk + "-") for utt, spk in utt2spk.items())
    assert read_table(out / "spk2utt") == {speakers[0]: f"{speakers[0]}-a1", speakers[1]: f"{speakers[1]}-c3"}
    for utt, path in read_table(out / "wav.scp").items():
        info = sf.info(path)
        assert Path(path).is_absolute() and info.samplerate == 16000 and info.channels == 1
        assert abs(info.duration - float(read_table(out / "utt2dur")[utt])) < 1e-3


def test_synthesize_job_shares_cover_every_line_once(tmp_path):
    (tmp_path / "text").write_text("".join(f"u{i} number {i}\n" for i in range(5)))
    for job in (1, 2):
        res = _synthesize(["flite", "--speakers", "flite_kal16_f095_d100", "--text", "text",
                           "--out-dir", "syn", "--nj", "2", "--job", str(job)], tmp_path)
        assert res.returncode == 0, res.stderr
    shares = [read_table(tmp_path / "syn" / "split2" / str(j) / "text") for j in (1, 2)]
    assert len(shares[0]) == 3 and len(shares[1]) == 2 and not shares[0].keys() & shares[1].keys()


def test_synthesize_reports_a_bad_speaker_cleanly(tmp_path):
    (tmp_path / "text").write_text("u1 hello\n")
    res = _synthesize(["flite", "--speakers", "flite_bob_f100_d100", "--text", "text",
                       "--out-dir", "syn"], tmp_path)
    assert res.returncode == 1
    assert res.stderr.startswith("s2s-synthesize: error: speaker 'flite_bob_f100_d100'")


def test_synthesize_says_one_sentence_into_a_wav(tmp_path):
    res = _synthesize(["espeak-ng", "Turn on the lights at 7!", "--speaker", "espeak-ng_en-us+m1_p040_s150",
                       "--out", "out/x.wav", "--sample-rate", "8000"], tmp_path)
    assert res.returncode == 0, res.stderr
    assert "turn on the lights at seven" in res.stderr
    info = sf.info(tmp_path / "out/x.wav")
    assert info.samplerate == 8000 and 0.8 < info.duration < 5


@pytest.mark.parametrize("args, message", [
    (["flite", "hello", "--speaker", "flite_bob_f100_d100", "--out", "x.wav"], "speaker 'flite_bob_f100_d100'"),
    (["flite", "?! ...", "--out", "x.wav"], "nothing to say in '?! ...'"),
    (["flite", "hello"], "a sentence needs --out x.wav"),
    (["flite", "hello", "--out", "."], ".: is a directory; give a file name"),
    (["no_such_model.pt", "hello", "--out", "x.wav"], "no_such_model.pt: neither a synthesizer"),
    (["flite", "--text", "bad.txt", "--out-dir", "syn"], "bad.txt:2: not valid UTF-8"),
])
def test_synthesize_bad_input_is_named_and_nothing_is_written(tmp_path, args, message):
    (tmp_path / "bad.txt").write_bytes(b"u1 hello\nu2 caf\xe9\n")
    res = _synthesize(args, tmp_path)
    assert res.returncode == 1, res.stderr
    assert res.stderr.startswith("s2s-synthesize: error: ") and message in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "x.wav").exists() and not (tmp_path / "syn").exists()
