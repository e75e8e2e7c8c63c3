"""s2s.data.validate.validate_data_dir: each problem is found, and named with file, line and fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from s2s.data.validate import validate_data_dir
from s2s.errors import S2SError

GOOD = {
    "utt2spk": "a1 spkA\na2 spkA\nb1 spkB\n",
    "spk2utt": "spkA a1 a2\nspkB b1\n",
    "text": "a1 hello world\na2 turn on the light\nb1 seven\n",
    "wav.scp": "a1 /data/a1.wav\na2 /data/a2.flac\nb1 sox /data/b1.wav -t wav - |\n",
    "utt2dur": "a1 1.25\na2 2.0\nb1 0.8\n",
}


def make_dir(root: Path, **files: str | None) -> Path:
    d = root / "data" / "train"
    d.mkdir(parents=True)
    for name, body in {**GOOD, **files}.items():
        if body is not None:
            (d / name).write_text(body, encoding="utf-8")
    return d


def error(d: Path, **kw) -> str:
    with pytest.raises(S2SError) as e:
        validate_data_dir(d, **kw)
    return str(e.value)


def test_valid_dir_passes(tmp_path):
    validate_data_dir(make_dir(tmp_path))


def test_segments_and_feats_when_consistent_pass(tmp_path):
    d = make_dir(tmp_path, **{
        "wav.scp": "rec1 /data/rec1.wav\n",
        "segments": "a1 rec1 0.0 1.25\na2 rec1 1.25 3.25\nb1 rec1 3.5 -1\n",
        "feats.scp": "a1 fbank/f.ark:10\na2 fbank/f.ark:200\nb1 fbank/f.ark:400\n",
        "utt2num_frames": "a1 125\na2 200\nb1 80\n",
    })
    validate_data_dir(d, need_feats=True)


def test_unsorted_table_names_line_keys_and_fix(tmp_path):
    d = make_dir(tmp_path, utt2spk="a1 spkA\nb1 spkB\na2 spkA\n")
    msg = error(d)
    assert msg == (f"{d}/utt2spk:3: not sorted ('a2' after 'b1'); run utils/fix_data_dir.sh {d}")


def test_duplicate_key_names_line(tmp_path):
    d = make_dir(tmp_path, text="a1 hello\na1 again\na2 x\nb1 y\n")
    assert re.match(rf"{re.escape(str(d))}/text:2: duplicate key 'a1'", error(d))


def test_missing_required_file_names_it_and_the_fix(tmp_path):
    d = make_dir(tmp_path, text=None)
    msg = error(d)
    assert msg.startswith(f"{d}/text: file not found") and "--no-text" in msg


def test_missing_spk2utt_says_how_to_make_it(tmp_path):
    msg = error(make_dir(tmp_path, spk2utt=None))
    assert "spk2utt: file not found" in msg and "utt2spk_to_spk2utt.pl" in msg


def test_need_flags_relax_requirements(tmp_path):
    d = make_dir(tmp_path, text=None, **{"wav.scp": None})
    validate_data_dir(d, need_text=False, need_wav=False)


def test_need_feats_requires_feats_scp(tmp_path):
    msg = error(make_dir(tmp_path), need_feats=True)
    assert "feats.scp: file not found" in msg and "make_feats.sh" in msg


def test_empty_transcript_is_an_error_naming_the_line(tmp_path):
    d = make_dir(tmp_path, text="a1 hello\na2\nb1 seven\n")
    msg = error(d)
    assert msg.startswith(f"{d}/text:2: empty transcript for 'a2'")
    assert f"utils/fix_data_dir.sh {d}" in msg


def test_text_must_be_utf8(tmp_path):
    d = make_dir(tmp_path)
    (d / "text").write_bytes(b"a1 hello\na2 caf\xe9\nb1 x\n")
    assert error(d).startswith(f"{d}/text:2: not valid UTF-8")


def test_utterance_missing_from_a_table(tmp_path):
    d = make_dir(tmp_path, text="a1 hello\nb1 seven\n")
    msg = error(d)
    assert msg == f"{d}/text: no line for utterance 'a2' (utt2spk:2); run utils/fix_data_dir.sh {d}"


def test_extra_utterance_in_a_table(tmp_path):
    d = make_dir(tmp_path, utt2dur="a1 1\na2 2\nb1 1\nc9 4\n")
    assert error(d).startswith(f"{d}/utt2dur:4: utterance 'c9' is not in utt2spk")


def test_wav_scp_utterances_checked_without_segments(tmp_path):
    d = make_dir(tmp_path, **{"wav.scp": "a1 x.wav\na2 y.wav\n"})
    assert "wav.scp: no line for utterance 'b1'" in error(d)


def test_spk2utt_disagreeing_with_utt2spk(tmp_path):
    d = make_dir(tmp_path, spk2utt="spkA a1\nspkB a2 b1\n")
    msg = error(d)
    assert msg.startswith(f"{d}/spk2utt:1: utterances of speaker 'spkA' differ from utt2spk")
    assert "utt2spk_to_spk2utt.pl" in msg


def test_spk2utt_missing_speaker(tmp_path):
    d = make_dir(tmp_path, spk2utt="spkA a1 a2\n")
    assert error(d).startswith(f"{d}/spk2utt: no line for speaker 'spkB' (utt2spk:3)")


def test_utterance_ids_need_not_start_with_speaker(tmp_path):
    d = make_dir(tmp_path, utt2spk="a1 zed\na2 zed\nb1 alpha\n", spk2utt="alpha b1\nzed a1 a2\n")
    validate_data_dir(d)


def test_segment_recording_must_be_in_wav_scp(tmp_path):
    d = make_dir(tmp_path, **{"wav.scp": "rec1 r.wav\n",
                              "segments": "a1 rec1 0 1\na2 rec1 1 2\nb1 rec2 0 1\n"})
    assert error(d).startswith(f"{d}/segments:3: recording 'rec2' of segment 'b1' is not in wav.scp")


def test_segment_times_must_be_ordered(tmp_path):
    d = make_dir(tmp_path, **{"wav.scp": "rec1 r.wav\n",
                              "segments": "a1 rec1 0 1\na2 rec1 2 1.5\nb1 rec1 3 4\n"})
    assert error(d).startswith(f"{d}/segments:2: segment 'a2' has start 2.0 and end 1.5")


def test_utt2dur_must_be_positive_numbers(tmp_path):
    d = make_dir(tmp_path, utt2dur="a1 1.0\na2 abc\nb1 1\n")
    assert error(d).startswith(f"{d}/utt2dur:2: 'a2' should have a positive duration")


def test_pipe_in_wav_scp_must_end_with_bar(tmp_path):
    d = make_dir(tmp_path, **{"wav.scp": "a1 x.wav\na2 sox y.wav -t wav - | head\nb1 z.wav\n"})
    assert error(d).startswith(f"{d}/wav.scp:2: 'a2': a command must end with '|'")


def test_empty_line_is_an_error(tmp_path):
    d = make_dir(tmp_path, utt2spk="a1 spkA\n\na2 spkA\nb1 spkB\n")
    assert error(d).startswith(f"{d}/utt2spk:2: empty line")


def test_missing_directory(tmp_path):
    assert "data directory not found" in error(tmp_path / "nope")
