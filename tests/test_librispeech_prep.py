"""LibriSpeech: download.sh against a local OpenSLR-shaped mirror, and data_prep.py to Kaldi data dirs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from s2s.data.datadir import DataDir
from tests.corpora import make_librispeech, serve_directory

ROOT = Path(__file__).resolve().parents[1]
LOCAL = ROOT / "egs" / "librispeech" / "local"
LM = ("librispeech-lm-norm.txt.gz", "librispeech-vocab.txt")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Two parts, 2 speakers each (one with two chapters), 3 utterances per speaker."""
    return make_librispeech(tmp_path_factory.mktemp("librispeech"), parts=("dev-clean", "test-clean"),
                            speakers=2, chapters_per_speaker=2, utts_per_speaker=3, lm_files=LM)


def download_sh(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(LOCAL / "download.sh"), *args], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "S2S_PYTHON": sys.executable})


def data_prep(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(LOCAL / "data_prep.py"), *args], capture_output=True, text=True)


@pytest.fixture
def part_copy(corpus, tmp_path):
    """A private copy of the extracted dev-clean part (with SPEAKERS.TXT) that a test may damage."""
    dst = tmp_path / "LibriSpeech"
    shutil.copytree(corpus["corpus"] / "dev-clean", dst / "dev-clean")
    shutil.copy(corpus["corpus"] / "SPEAKERS.TXT", dst / "SPEAKERS.TXT")
    return dst / "dev-clean"


def test_download_fetches_verifies_and_extracts_parts_and_lm(corpus, tmp_path):
    dl = tmp_path / "downloads"
    with serve_directory(corpus["mirror"]) as server:
        args = ["--base-url", server.url, "--parts", "dev-clean test-clean", "--lm-files", " ".join(LM),
                "--md5-file", str(corpus["md5_file"]), str(dl)]
        r = download_sh(*args)
        assert r.returncode == 0, r.stderr
        for part in ("dev-clean", "test-clean"):
            flacs = sorted((dl / "LibriSpeech" / part).rglob("*.flac"))
            assert [f.stem for f in flacs] == sorted(corpus["text"][part])
            assert (dl / f"{part}.tar.gz.done").read_text().startswith(f"md5 {corpus['md5'][part + '.tar.gz']}")
        for name in LM:
            assert (dl / "lm" / name).read_bytes() == corpus["lm"][name].read_bytes()
        n = len(server.requests)
        # A re-run finds every marker and fetches nothing.
        r = download_sh(*args)
        assert r.returncode == 0, r.stderr
        assert len(server.requests) == n


def test_download_checks_the_published_md5_by_default(corpus, tmp_path):
    # Our tiny archive is not the real dev-clean: the built-in OpenSLR sum must reject it.
    with serve_directory(corpus["mirror"]) as server:
        r = download_sh("--base-url", server.url, "--parts", "dev-clean", "--lm-files", "", str(tmp_path / "dl"))
    assert r.returncode == 1
    assert "42e2234ba48799c1f50f24a7926300a1" in r.stderr and corpus["md5"]["dev-clean.tar.gz"] in r.stderr
    assert not (tmp_path / "dl" / "LibriSpeech").exists()


def test_download_rejects_an_unknown_part(tmp_path):
    r = download_sh("--parts", "dev-dirty", "--lm-files", "", str(tmp_path))
    assert r.returncode == 1 and "unknown LibriSpeech part 'dev-dirty'" in r.stderr


def test_data_prep_writes_a_sorted_kaldi_data_dir(corpus, tmp_path):
    r = data_prep(str(corpus["corpus"] / "dev-clean"), str(tmp_path / "dev_clean"))
    assert r.returncode == 0, r.stderr
    d = DataDir(tmp_path / "dev_clean")
    expected = corpus["text"]["dev-clean"]
    for name in ("wav.scp", "text", "utt2spk", "spk2utt", "utt2dur", "spk2gender"):
        keys = list(d.table(name, check_sorted=True))
        assert keys == sorted(keys)
    assert d.text() == dict(sorted(expected.items()))
    assert len(d.utt_ids()) == 6
    assert d.utt2spk() == {u: u.split("-")[0] for u in sorted(expected)}
    assert d.table("spk2utt") == {s: " ".join(u for u in sorted(expected) if u.startswith(s + "-"))
                                  for s in sorted(corpus["speakers"]["dev-clean"])}
    assert d.table("spk2gender") == {"100": "m", "111": "f"}
    for utt, path in d.wav_scp().items():
        assert Path(path).is_absolute() and path.endswith(f"/{utt}.flac")
        info = sf.info(path)
        assert info.samplerate == 16000
        assert float(d.table("utt2dur")[utt]) == pytest.approx(info.frames / 16000, abs=1e-4)


def test_transcript_line_without_audio_is_counted_and_reported(part_copy, tmp_path):
    victim = sorted(part_copy.rglob("*.flac"))[0]
    victim.unlink()
    r = data_prep(str(part_copy), str(tmp_path / "data"))
    assert r.returncode == 1
    assert f"1 transcript line(s) without a .flac ({victim.stem})" in r.stderr
    assert "--skip-incomplete" in r.stderr and not (tmp_path / "data" / "text").exists()

    r = data_prep("--skip-incomplete", str(part_copy), str(tmp_path / "data"))
    assert r.returncode == 0 and "warning" in r.stderr
    text = DataDir(tmp_path / "data").text()
    assert len(text) == 5 and victim.stem not in text


def test_audio_without_transcript_is_counted_and_reported(part_copy, tmp_path):
    flac = sorted(part_copy.rglob("*.flac"))[0]
    extra = [flac.with_name(flac.stem[:-4] + f"{n:04d}.flac") for n in (90, 91)]
    for e in extra:
        shutil.copy(flac, e)
    r = data_prep(str(part_copy), str(tmp_path / "data"))
    assert r.returncode == 1
    assert f"2 .flac file(s) without a transcript line ({extra[0].stem}, {extra[1].stem})" in r.stderr


def test_misplaced_transcript_line_names_file_and_line(part_copy, tmp_path):
    trans = sorted(part_copy.rglob("*.trans.txt"))[0]
    lines = trans.read_text().splitlines()
    trans.write_text("\n".join(lines + ["999-999-0000 WRONG CHAPTER"]) + "\n")
    r = data_prep(str(part_copy), str(tmp_path / "data"))
    assert r.returncode == 1
    assert f"{trans}:{len(lines) + 1}: utterance id '999-999-0000' does not belong to this chapter" in r.stderr


def test_not_a_part_directory_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    r = data_prep(str(tmp_path / "empty"), str(tmp_path / "data"))
    assert r.returncode == 1 and "no speaker directories" in r.stderr and "Traceback" not in r.stderr
