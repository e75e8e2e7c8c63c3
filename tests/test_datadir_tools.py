"""utils/ data-dir tools, run as scripts: fix, split, combine, subset, speed perturbation, filters."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
import soundfile as sf

from s2s.data.datadir import read_table
from s2s.data.validate import validate_data_dir

UTILS = Path(__file__).resolve().parents[1] / "utils"

# Six utterances, three speakers; utterance ids deliberately not prefixed by speaker.
BASE = {
    "utt2spk": "u1 carol\nu2 alice\nu3 alice\nu4 bob\nu5 carol\nu6 alice\n",
    "text": "u1 one\nu2 two\nu3 three\nu4 four\nu5 five\nu6 six\n",
    "wav.scp": "u1 w/u1.wav\nu2 w/u2.wav\nu3 w/u3.wav\nu4 w/u4.wav\nu5 w/u5.wav\nu6 w/u6.wav\n",
    "utt2dur": "u1 1.0\nu2 3.0\nu3 0.5\nu4 2.0\nu5 4.0\nu6 1.5\n",
}


def make_dir(d: Path, files: dict[str, str] | None = None, spk2utt: bool = True) -> Path:
    d.mkdir(parents=True)
    for name, body in (files or BASE).items():
        (d / name).write_text(body)
    if spk2utt:
        tool("utt2spk_to_spk2utt.pl", str(d / "utt2spk"), stdout=d / "spk2utt")
    return d


def tool(name: str, *args: str, cwd=None, stdin: str | None = None, stdout: Path | None = None,
         check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([str(UTILS / name), *args], cwd=cwd, input=stdin, capture_output=True, text=True)
    if check:
        assert r.returncode == 0, r.stderr
    if stdout is not None:
        stdout.write_text(r.stdout)
    return r


def utts(d: Path) -> list[str]:
    return list(read_table(d / "utt2spk"))


# ------------------------------------------------------------------ filters


def test_utt2spk_to_spk2utt_filters_stdin_to_stdout():
    r = tool("utt2spk_to_spk2utt.pl", stdin="u2 b\nu1 a\nu3 b\n")
    assert r.stdout == "a u1\nb u2 u3\n"


def test_spk2utt_to_utt2spk_filters_stdin_to_stdout():
    r = tool("spk2utt_to_utt2spk.pl", stdin="b u3 u2\na u1\n")
    assert r.stdout == "u1 a\nu2 b\nu3 b\n"


# ------------------------------------------------------------------ validate_data_dir.sh


def test_validate_script_ok_and_no_feats(tmp_path):
    d = make_dir(tmp_path / "d")
    assert tool("validate_data_dir.sh", "--no-feats", str(d)).returncode == 0
    r = tool("validate_data_dir.sh", str(d), check=False)  # feats required by default, as in Kaldi
    assert r.returncode == 1 and "feats.scp: file not found" in r.stderr


def test_validate_script_reports_file_line_and_fix(tmp_path):
    d = make_dir(tmp_path / "d", {**BASE, "text": "u2 two\nu1 one\n"})
    r = tool("validate_data_dir.sh", "--no-feats", str(d), check=False)
    assert r.returncode == 1
    assert f"validate_data_dir.sh: error: {d}/text:2: not sorted ('u1' after 'u2'); " \
           f"run utils/fix_data_dir.sh {d}" in r.stderr


# ------------------------------------------------------------------ fix_data_dir.sh


def test_fix_sorts_and_keeps_utterances_in_all_files(tmp_path):
    d = make_dir(tmp_path / "d", {
        "utt2spk": "u3 alice\nu1 carol\nu2 alice\nu4 bob\n",
        "text": "u1 one\nu2\nu4 four\nu4 again\nu9 orphan\nu3 three\n",  # u2 empty, u4 twice, u9 extra
        "wav.scp": "u1 a.wav\nu2 b.wav\nu3 c.wav\n",  # u4 has no audio
    }, spk2utt=False)
    r = tool("fix_data_dir.sh", str(d))
    assert "kept 2 of 5 utterances; removed 3" in r.stderr
    assert "empty transcript" in r.stderr and "not in wav.scp" in r.stderr
    assert utts(d) == ["u1", "u3"]
    assert (d / "text").read_text() == "u1 one\nu3 three\n"
    assert (d / "spk2utt").read_text() == "alice u3\ncarol u1\n"
    validate_data_dir(d)


def test_fix_backs_up_originals(tmp_path):
    d = make_dir(tmp_path / "d", {**BASE, "text": "u1 one\n"})
    tool("fix_data_dir.sh", str(d))
    assert (d / ".backup" / "text").read_text() == "u1 one\n"
    assert (d / ".backup" / "utt2spk").read_text() == BASE["utt2spk"]
    assert utts(d) == ["u1"]


def test_fix_with_segments_drops_unknown_recordings_and_unused_audio(tmp_path):
    d = make_dir(tmp_path / "d", {
        "utt2spk": "s1 x\ns2 x\ns3 y\n",
        "text": "s1 a\ns2 b\ns3 c\n",
        "segments": "s1 recA 0 1\ns2 recB 0 1\ns3 recA 1 2\n",
        "wav.scp": "recA a.wav\nrecC c.wav\n",
    }, spk2utt=False)
    r = tool("fix_data_dir.sh", str(d))
    assert "recording not in wav.scp" in r.stderr
    assert utts(d) == ["s1", "s3"]
    assert (d / "wav.scp").read_text() == "recA a.wav\n"
    validate_data_dir(d)


# ------------------------------------------------------------------ split_data.sh


def test_split_by_speaker_keeps_speakers_whole(tmp_path):
    d = make_dir(tmp_path / "d")
    tool("split_data.sh", str(d), "2")
    parts = [d / "split2" / str(k) for k in (1, 2)]
    spk_sets = []
    for p in parts:
        validate_data_dir(p)
        spk_sets.append(set(read_table(p / "spk2utt")))
    assert not spk_sets[0] & spk_sets[1]
    assert sorted(utts(parts[0]) + utts(parts[1])) == utts(d)


def test_split_by_speaker_balances_sizes(tmp_path):
    # 40 speakers with 1..4 utterances each: groups should be close to the mean size.
    lines = [f"s{s:02d}u{i} s{s:02d}" for s in range(40) for i in range(1 + s % 4)]
    d = make_dir(tmp_path / "d", {"utt2spk": "\n".join(lines) + "\n"})
    tool("split_data.sh", str(d), "4")
    sizes = [len(utts(d / "split4" / str(k))) for k in range(1, 5)]
    assert sum(sizes) == len(lines)
    assert max(sizes) - min(sizes) <= 4


def test_split_per_utt(tmp_path):
    d = make_dir(tmp_path / "d")
    tool("split_data.sh", "--per-utt", str(d), "4")
    sizes = [len(utts(d / "split4utt" / str(k))) for k in range(1, 5)]
    assert sizes == [2, 2, 1, 1]
    for k in range(1, 5):
        validate_data_dir(d / "split4utt" / str(k))


def test_split_into_more_parts_than_speakers_is_an_error(tmp_path):
    d = make_dir(tmp_path / "d")
    r = tool("split_data.sh", str(d), "4", check=False)
    assert r.returncode == 1
    assert "cannot split 3 speakers into 4 parts; use fewer jobs or --per-utt" in r.stderr


def test_split_keeps_recordings_of_segments(tmp_path):
    d = make_dir(tmp_path / "d", {
        "utt2spk": "s1 x\ns2 y\n", "text": "s1 a\ns2 b\n",
        "segments": "s1 recA 0 1\ns2 recB 0 1\n", "wav.scp": "recA a.wav\nrecB b.wav\n",
    })
    tool("split_data.sh", str(d), "2")
    assert (d / "split2/1/wav.scp").read_text() == "recA a.wav\n"
    assert (d / "split2/2/wav.scp").read_text() == "recB b.wav\n"


# ------------------------------------------------------------------ combine_data.sh


def test_combine_concatenates_and_sorts(tmp_path):
    a = make_dir(tmp_path / "a", {"utt2spk": "x2 s1\nx1 s1\n", "text": "x1 a\nx2 b\n", "wav.scp": "x1 1\nx2 2\n"})
    b = make_dir(tmp_path / "b", {"utt2spk": "w1 s2\n", "text": "w1 c\n", "wav.scp": "w1 3\n"})
    tool("combine_data.sh", str(tmp_path / "c"), str(a), str(b))
    c = tmp_path / "c"
    assert utts(c) == ["w1", "x1", "x2"]
    assert (c / "spk2utt").read_text() == "s1 x1 x2\ns2 w1\n"
    validate_data_dir(c)


def test_combine_rejects_duplicate_utterance_ids(tmp_path):
    a = make_dir(tmp_path / "a")
    b = make_dir(tmp_path / "b")
    r = tool("combine_data.sh", str(tmp_path / "c"), str(a), str(b), check=False)
    assert r.returncode == 1
    assert f"utterance 'u1' is in both {a} and {b}" in r.stderr


def test_combine_leaves_out_table_missing_in_a_source(tmp_path):
    a = make_dir(tmp_path / "a", {"utt2spk": "x1 s\n", "text": "x1 a\n", "utt2dur": "x1 1\n"})
    b = make_dir(tmp_path / "b", {"utt2spk": "y1 s\n", "text": "y1 b\n"})
    r = tool("combine_data.sh", str(tmp_path / "c"), str(a), str(b))
    assert f"utt2dur is missing in {b}; not combined" in r.stderr
    assert not (tmp_path / "c/utt2dur").exists()
    assert utts(tmp_path / "c") == ["x1", "y1"]


def test_combine_makes_segments_for_sources_without_them(tmp_path):
    a = make_dir(tmp_path / "a", {"utt2spk": "x1 s\n", "text": "x1 a\n", "wav.scp": "recA a.wav\n",
                                  "segments": "x1 recA 0.5 1.5\n", "utt2dur": "x1 1.0\n"})
    b = make_dir(tmp_path / "b", {"utt2spk": "y1 t\n", "text": "y1 b\n", "wav.scp": "y1 b.wav\n",
                                  "utt2dur": "y1 2.5\n"})
    tool("combine_data.sh", str(tmp_path / "c"), str(a), str(b))
    c = tmp_path / "c"
    assert (c / "segments").read_text() == "x1 recA 0.5 1.5\ny1 y1 0 2.5\n"
    validate_data_dir(c)


# ------------------------------------------------------------------ subset_data_dir.sh


def test_subset_spreads_over_the_list(tmp_path):
    d = make_dir(tmp_path / "d")
    tool("subset_data_dir.sh", str(d), "3", str(tmp_path / "s"))
    assert utts(tmp_path / "s") == ["u1", "u3", "u5"]
    validate_data_dir(tmp_path / "s")


def test_subset_first_and_shortest(tmp_path):
    d = make_dir(tmp_path / "d")
    tool("subset_data_dir.sh", "--first", str(d), "2", str(tmp_path / "f"))
    assert utts(tmp_path / "f") == ["u1", "u2"]
    tool("subset_data_dir.sh", "--shortest", str(d), "2", str(tmp_path / "short"))
    assert utts(tmp_path / "short") == ["u1", "u3"]


def test_subset_by_utt_list(tmp_path):
    d = make_dir(tmp_path / "d")
    (tmp_path / "list").write_text("u4\nu2 anything after the id\nnope\n")
    r = tool("subset_data_dir.sh", "--utt-list", str(tmp_path / "list"), str(d), str(tmp_path / "s"))
    assert utts(tmp_path / "s") == ["u2", "u4"]
    assert "1 of the 3 utterances" in r.stderr
    assert (tmp_path / "s/spk2utt").read_text() == "alice u2\nbob u4\n"


def test_subset_by_spk_list(tmp_path):
    d = make_dir(tmp_path / "d")
    (tmp_path / "spk").write_text("alice\n")
    tool("subset_data_dir.sh", "--spk-list", str(tmp_path / "spk"), str(d), str(tmp_path / "s"))
    assert utts(tmp_path / "s") == ["u2", "u3", "u6"]
    validate_data_dir(tmp_path / "s")


def test_subset_more_than_available_is_an_error(tmp_path):
    d = make_dir(tmp_path / "d")
    r = tool("subset_data_dir.sh", str(d), "7", str(tmp_path / "s"), check=False)
    assert r.returncode == 1 and "has 6 utterances, cannot take 7" in r.stderr


# ------------------------------------------------------------------ perturb_data_dir_speed.sh


def test_speed_perturb_prefixes_ids_and_scales_durations(tmp_path):
    d = make_dir(tmp_path / "d")
    (d / "wav.scp").write_text(BASE["wav.scp"].replace("u6 w/u6.wav", "u6 flac -dc w/u6.flac |"))
    tool("perturb_data_dir_speed.sh", "0.9", str(d), str(tmp_path / "sp"))
    sp = tmp_path / "sp"
    assert read_table(sp / "utt2spk")["sp0.9-u1"] == "sp0.9-carol"
    assert read_table(sp / "text")["sp0.9-u2"] == "two"
    wav = read_table(sp / "wav.scp")
    assert wav["sp0.9-u1"] == "sox -R w/u1.wav -t wav - speed 0.9 |"
    assert wav["sp0.9-u6"] == "flac -dc w/u6.flac | sox -R -t wav - -t wav - speed 0.9 |"
    assert float(read_table(sp / "utt2dur")["sp0.9-u2"]) == pytest.approx(3.0 / 0.9, abs=1e-3)
    assert read_table(sp / "utt2uniq")["sp0.9-u2"] == "u2"
    validate_data_dir(sp)


def test_speed_perturb_adjusts_segments(tmp_path):
    d = make_dir(tmp_path / "d", {"utt2spk": "s1 x\n", "text": "s1 a\n", "wav.scp": "recA a.wav\n",
                                  "segments": "s1 recA 0.9 1.8\n"})
    tool("perturb_data_dir_speed.sh", "1.1", str(d), str(tmp_path / "sp"))
    seg = read_table(tmp_path / "sp/segments")["sp1.1-s1"].split()
    assert seg[0] == "sp1.1-recA"
    assert float(seg[1]) == pytest.approx(0.9 / 1.1, abs=1e-3)
    assert float(seg[2]) == pytest.approx(1.8 / 1.1, abs=1e-3)
    assert list(read_table(tmp_path / "sp/wav.scp")) == ["sp1.1-recA"]
    validate_data_dir(tmp_path / "sp")


def test_speed_perturbed_pipe_really_changes_duration(tmp_path):
    wav = tmp_path / "tone.wav"
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", str(wav), "synth", "1.0", "sine", "440"], check=True)
    d = make_dir(tmp_path / "d", {"utt2spk": "t1 s\n", "text": "t1 tone\n", "wav.scp": f"t1 {wav}\n"})
    tool("perturb_data_dir_speed.sh", "0.9", str(d), str(tmp_path / "sp"))
    cmd = read_table(tmp_path / "sp/wav.scp")["sp0.9-t1"]
    audio = subprocess.run(cmd.rstrip().rstrip("|"), shell=True, capture_output=True, check=True).stdout
    data, sr = sf.read(io.BytesIO(audio))
    assert sr == 16000
    assert len(data) / sr == pytest.approx(1.0 / 0.9, abs=0.01)


def test_speed_factor_must_be_positive_number(tmp_path):
    d = make_dir(tmp_path / "d")
    r = tool("perturb_data_dir_speed.sh", "fast", str(d), str(tmp_path / "sp"), check=False)
    assert r.returncode == 1 and "speed factor must be a positive number" in r.stderr
