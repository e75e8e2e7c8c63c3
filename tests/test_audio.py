"""Audio loading: files, pipes, channels, resampling, segments, and every bad-input error."""

import subprocess

import numpy as np
import pytest
import soundfile as sf

from s2s.data.audio import iter_datadir_audio, load_audio
from s2s.errors import S2SError


def tone(sr=16000, seconds=0.5, freq=440.0):
    t = np.arange(int(sr * seconds)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write(path, wav, sr=16000, **kw):
    sf.write(str(path), wav, sr, **kw)
    return str(path)


def test_wav_file_is_float32_mono_in_range(tmp_path):
    wav, sr = load_audio(write(tmp_path / "a.wav", tone(), subtype="PCM_16"))
    assert sr == 16000 and wav.dtype == np.float32 and wav.ndim == 1
    assert np.abs(wav).max() <= 1.0
    np.testing.assert_allclose(wav, tone(), atol=1 / 32768)


def test_flac_file(tmp_path):
    wav, sr = load_audio(write(tmp_path / "a.flac", tone()))
    np.testing.assert_allclose(wav, tone(), atol=1 / 32768)


def test_pipe_with_sox_gives_same_samples(tmp_path):
    path = write(tmp_path / "a.wav", tone(), subtype="PCM_16")
    direct, _ = load_audio(path)
    piped, sr = load_audio(f"sox {path} -t wav - |")
    assert sr == 16000
    np.testing.assert_array_equal(direct, piped)


def test_failing_pipe_names_entry_and_stderr(tmp_path):
    with pytest.raises(S2SError, match=r"wav.scp: utt1.*exit code.*no such thing"):
        load_audio("echo no such thing >&2; exit 3 |", context="wav.scp: utt1")


def test_pipe_failing_mid_pipeline_is_caught(tmp_path):
    with pytest.raises(S2SError, match="exit code"):
        load_audio(f"cat {tmp_path}/missing.wav | cat |")


def test_pipe_without_output(tmp_path):
    with pytest.raises(S2SError, match="wrote no audio"):
        load_audio("true |")


def test_missing_file_names_entry(tmp_path):
    with pytest.raises(S2SError, match=r"data/wav.scp: u9: audio file .*nope.wav not found"):
        load_audio(str(tmp_path / "nope.wav"), context="data/wav.scp: u9")


def test_empty_audio(tmp_path):
    with pytest.raises(S2SError, match="no samples"):
        load_audio(write(tmp_path / "e.wav", np.zeros(0, np.float32)))


def test_corrupt_file(tmp_path):
    (tmp_path / "bad.wav").write_bytes(b"RIFF\x00\x00not really a wav file")
    with pytest.raises(S2SError, match="cannot decode"):
        load_audio(str(tmp_path / "bad.wav"))


def test_truncated_wav(tmp_path):
    path = write(tmp_path / "a.wav", tone(), subtype="PCM_16")
    data = open(path, "rb").read()
    (tmp_path / "t.wav").write_bytes(data[: len(data) // 2])
    with pytest.raises(S2SError, match="truncated"):
        load_audio(str(tmp_path / "t.wav"))


def test_stereo_needs_a_channel(tmp_path):
    stereo = np.stack([tone(), -tone()], axis=1)
    path = write(tmp_path / "s.wav", stereo)
    with pytest.raises(S2SError, match="2 channels"):
        load_audio(path)
    right, _ = load_audio(path, channel=1)
    np.testing.assert_allclose(right, -tone(), atol=1e-4)


def test_rate_mismatch_is_an_error_with_the_fix(tmp_path):
    path = write(tmp_path / "a.wav", tone(sr=8000), 8000)
    with pytest.raises(S2SError, match=r"8000 Hz.*16000 Hz.*resample: true"):
        load_audio(path, target_sr=16000)


def test_resample_keeps_a_tone_band_limited(tmp_path):
    path = write(tmp_path / "a.wav", tone(sr=8000, seconds=1.0, freq=1000.0), 8000)
    wav, sr = load_audio(path, target_sr=16000, resample=True)
    assert sr == 16000 and abs(len(wav) - 16000) <= 1
    spec = np.abs(np.fft.rfft(wav[2000:14000] * np.hanning(12000)))
    freqs = np.fft.rfftfreq(12000, 1 / 16000)
    assert abs(freqs[spec.argmax()] - 1000) < 5
    # nothing above the old Nyquist (4 kHz) beyond -60 dB: a proper low-pass, no imaging
    assert spec[freqs > 4200].max() < 1e-3 * spec.max()


def make_datadir(tmp_path, with_segments):
    d = tmp_path / "data"
    d.mkdir()
    a = write(tmp_path / "rec1.wav", tone(seconds=2.0))
    b = write(tmp_path / "rec2.wav", tone(seconds=1.0, freq=300.0))
    (d / "wav.scp").write_text(f"rec1 {a}\nrec2 sox {b} -t wav - |\n")
    if with_segments:
        (d / "segments").write_text("rec1-a rec1 0.0 0.5\nrec1-b rec1 1.0 -1\nrec2-a rec2 0.25 0.75\n")
    return d


def test_datadir_without_segments(tmp_path):
    out = list(iter_datadir_audio(make_datadir(tmp_path, False)))
    assert [(u, len(w), sr) for u, w, sr in out] == [("rec1", 32000, 16000), ("rec2", 16000, 16000)]


def test_datadir_segments_slice_recordings(tmp_path):
    out = {u: w for u, w, _ in iter_datadir_audio(make_datadir(tmp_path, True))}
    assert sorted(out) == ["rec1-a", "rec1-b", "rec2-a"]
    assert len(out["rec1-a"]) == 8000 and len(out["rec1-b"]) == 16000 and len(out["rec2-a"]) == 8000
    np.testing.assert_allclose(out["rec1-b"], tone(seconds=2.0)[16000:], atol=1e-4)


def test_datadir_subset_of_utts(tmp_path):
    out = [u for u, _, _ in iter_datadir_audio(make_datadir(tmp_path, True), utts=["rec2-a"])]
    assert out == ["rec2-a"]


def test_segment_of_unknown_recording(tmp_path):
    d = make_datadir(tmp_path, True)
    (d / "segments").write_text("x rec9 0 1\n")
    with pytest.raises(S2SError, match=r"segments: segment 'x' refers to recording 'rec9'.*fix_data_dir"):
        list(iter_datadir_audio(d))


def test_segment_past_the_end(tmp_path):
    d = make_datadir(tmp_path, True)
    (d / "segments").write_text("x rec2 0.5 3.0\n")
    with pytest.raises(S2SError, match="outside recording 'rec2'"):
        list(iter_datadir_audio(d))


def test_bad_entry_in_datadir_names_wav_scp_and_utt(tmp_path):
    d = make_datadir(tmp_path, False)
    (d / "wav.scp").write_text("rec1 /no/such.wav\n")
    with pytest.raises(S2SError, match=r"wav.scp: rec1: audio file /no/such.wav not found"):
        list(iter_datadir_audio(d))


def test_espeak_speech_through_pipe(tmp_path):
    path = tmp_path / "s.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "hello"], check=True)
    wav, sr = load_audio(f"sox {path} -t wav - |", target_sr=16000, resample=True)
    assert sr == 16000 and len(wav) > 4000 and np.abs(wav).max() > 0.01
