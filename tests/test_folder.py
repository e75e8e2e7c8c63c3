"""utils/data_dir_from_folder.sh and utils/split_sets.sh: the transcript layouts users bring, the
speakers they imply, and the errors for what cannot work."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from s2s.data.datadir import read_table
from s2s.errors import S2SError
from s2s.recipe.folder import from_folder, split

ROOT = Path(__file__).resolve().parents[1]


def audio(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(1600, dtype=np.float32), 16000)
    return path


def tables(d: Path) -> dict:
    return {n: read_table(d / n) for n in ("wav.scp", "text", "utt2spk", "spk2utt")}


def test_transcripts_beside_the_audio_speakers_from_directories(tmp_path):
    src = tmp_path / "src"
    audio(src / "alice" / "one.wav")
    (src / "alice" / "one.txt").write_text("Hello, World!\n")
    audio(src / "bob" / "sub" / "two.flac")
    (src / "bob" / "sub" / "two.lab").write_text("I have 3 cats")
    audio(src / "loose.wav")
    (src / "loose.txt").write_text("on its own")
    audio(src / "carol" / "one.wav")  # the same name as alice's: the path tells them apart
    (src / "carol" / "one.txt").write_text("again")
    from_folder(src, tmp_path / "data")
    t = tables(tmp_path / "data")
    assert t["text"] == {"alice-one": "hello world", "bob-sub-two": "i have three cats", "carol-one": "again",
                         "loose": "on its own"}
    assert t["utt2spk"] == {"alice-one": "alice", "bob-sub-two": "bob-sub", "carol-one": "carol", "loose": "loose"}
    assert t["wav.scp"]["bob-sub-two"] == str((src / "bob" / "sub" / "two.flac").resolve())
    from_folder(src, tmp_path / "raw", normalize=False, speaker="none")
    t = tables(tmp_path / "raw")
    assert t["text"]["alice-one"] == "Hello, World!" and t["utt2spk"]["alice-one"] == "alice-one"


def test_common_voice_tsv_with_client_ids(tmp_path):
    src = tmp_path / "clips"
    for n in ("a", "b", "c"):
        audio(src / f"common_voice_en_{n}.mp3".replace(".mp3", ".wav"))
    (tmp_path / "validated.tsv").write_text(
        "client_id\tpath\tsentence\tup_votes\n"
        "spk9\tcommon_voice_en_a.wav\tThe first one.\t2\n"
        "spk9\tcommon_voice_en_b\tThe second one\t1\n"
        "spk7\tcommon_voice_en_c.wav\tA third\t3\n"
        "spk7\tcommon_voice_en_gone.wav\tNo audio for this\t3\n")
    from_folder(src, tmp_path / "data", transcripts=tmp_path / "validated.tsv")
    t = tables(tmp_path / "data")
    assert t["utt2spk"] == {"spk7-common_voice_en_c": "spk7", "spk9-common_voice_en_a": "spk9",
                            "spk9-common_voice_en_b": "spk9"}
    assert t["text"]["spk9-common_voice_en_a"] == "the first one"


@pytest.mark.parametrize("table", [
    "LJ001-0001|Printing, in the only sense|printing in the only sense\nLJ001-0002|In being comparatively modern.\n",
    "LJ001-0001\tprinting in the only sense\nLJ001-0002\tin being comparatively modern\n",
    "LJ001-0001 printing in the only sense\nLJ001-0002 in being comparatively modern\n",
])
def test_headerless_tables_keyed_by_file_name(tmp_path, table):
    for n in ("LJ001-0001", "LJ001-0002"):
        audio(tmp_path / "wavs" / f"{n}.wav")
    (tmp_path / "metadata.csv").write_text(table)
    from_folder(tmp_path / "wavs", tmp_path / "data", transcripts=tmp_path / "metadata.csv")
    assert read_table(tmp_path / "data" / "text") == {"LJ001-0001": "printing in the only sense",
                                                      "LJ001-0002": "in being comparatively modern"}


def test_librispeech_trans_txt(tmp_path):
    ch = tmp_path / "LibriSpeech" / "dev-clean" / "84" / "121123"
    for n in ("84-121123-0000", "84-121123-0001"):
        audio(ch / f"{n}.flac")
    (ch / "84-121123.trans.txt").write_text("84-121123-0000 GO DO YOU HEAR\n84-121123-0001 BUT IN LESS THAN FIVE\n")
    from_folder(tmp_path / "LibriSpeech" / "dev-clean", tmp_path / "data", normalize=False)
    t = tables(tmp_path / "data")
    assert t["text"] == {"84-121123-0000": "GO DO YOU HEAR", "84-121123-0001": "BUT IN LESS THAN FIVE"}
    assert set(t["utt2spk"].values()) == {"84-121123"}


def test_errors_name_the_folder_file_and_fix(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(S2SError, match="no audio files"):
        from_folder(tmp_path / "empty", tmp_path / "d1")
    audio(tmp_path / "untranscribed" / "a.wav")
    with pytest.raises(S2SError, match="none of the 1 audio files has a transcript.*--transcripts FILE"):
        from_folder(tmp_path / "untranscribed", tmp_path / "d2")
    audio(tmp_path / "punct" / "a.wav")
    (tmp_path / "punct" / "a.txt").write_text("?!\n")
    with pytest.raises(S2SError, match=r"a\.wav: its transcript '\?!' is empty after normalisation"):
        from_folder(tmp_path / "punct", tmp_path / "d3")
    assert not (tmp_path / "d3").exists()
    (tmp_path / "bad.tsv").write_text("path\tsentence\nonly-one-column\n")
    audio(tmp_path / "t" / "x.wav")
    with pytest.raises(S2SError, match=r"bad.tsv:2: 1 column\(s\), the header has 2"):
        from_folder(tmp_path / "t", tmp_path / "d4", transcripts=tmp_path / "bad.tsv")


def make_dir(tmp_path: Path, speakers: int, per_speaker: int) -> Path:
    src = tmp_path / "src"
    for s in range(speakers):
        for u in range(per_speaker):
            audio(src / f"s{s}" / f"u{u}.wav")
            (src / f"s{s}" / f"u{u}.txt").write_text(f"utterance {u}")
    from_folder(src, tmp_path / "all")
    return tmp_path / "all"


def test_split_holds_speakers_out_when_there_are_enough(tmp_path):
    data = make_dir(tmp_path, speakers=10, per_speaker=4)
    sets = split(data, tmp_path / "data", ["train:80", "dev:10", "test:10"])
    spk = {n: {read_table(tmp_path / "data" / n / "utt2spk")[u] for u in utts} for n, utts in sets.items()}
    assert [len(spk[n]) for n in ("train", "dev", "test")] == [8, 1, 1]
    assert not (spk["train"] & spk["dev"]) and not (spk["train"] & spk["test"])
    assert sum(len(u) for u in sets.values()) == 40
    again = split(data, tmp_path / "again", ["train:80", "dev:10", "test:10"])
    assert again == sets  # seeded


def test_split_falls_back_to_utterances_with_few_speakers(tmp_path, capfd):
    data = make_dir(tmp_path, speakers=2, per_speaker=10)
    sets = split(data, tmp_path / "data", ["train:80", "dev:10", "test:10"])
    assert [len(sets[n]) for n in ("train", "dev", "test")] == [16, 2, 2]
    assert "too few to hold speakers out" in capfd.readouterr().err
    with pytest.raises(S2SError, match="expected NAME:PERCENT"):
        split(data, tmp_path / "x", ["train", "dev:10"])


def test_the_utils_scripts_run_with_the_system_python(tmp_path):
    make_dir(tmp_path, speakers=6, per_speaker=2)
    p = subprocess.run(["bash", str(ROOT / "utils/split_sets.sh"), str(tmp_path / "all"), str(tmp_path / "out"),
                        "tr:60", "cv:20", "ev:20"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "out" / "cv" / "spk2utt").is_file()
    bad = subprocess.run(["bash", str(ROOT / "utils/data_dir_from_folder.sh"), str(tmp_path / "nope"),
                          str(tmp_path / "d")], capture_output=True, text=True)
    assert bad.returncode == 1 and "nope: not a directory" in bad.stderr
