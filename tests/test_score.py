"""Scoring: WER/CER counts on hand-computed examples, sclite-like alignments, RESULTS.md, classification, plots."""

import logging
import subprocess
import sys

import numpy as np
import pytest

from s2s.bin import score as score_cli
from s2s.errors import S2SError
from s2s.score.classification import classification_report
from s2s.score.plots import plot_alignment, plot_confusion
from s2s.score.wer import format_alignment, score_texts

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# u1: CAT->BAT (S), +ON (I); u2: -BIG (D). Words: N=6, 3 errors.
# Characters: u1 "the cat sat" (11) -> c/b + " on" = 4 errors; u2 "hello big world" (15) -> 4 deletions.
REF = {"u1": "the cat sat", "u2": "hello big world"}
HYP = {"u1": "the bat sat on", "u2": "hello world"}


def write_table(path, table):
    path.write_text("".join(f"{k} {v}\n".replace(" \n", "\n") for k, v in table.items()), encoding="utf-8")
    return path


def test_word_counts_on_a_hand_computed_example():
    r = score_texts(REF, HYP)
    assert (r.sub, r.dels, r.ins, r.cor, r.nref) == (1, 1, 1, 4, 6)
    assert r.wer == pytest.approx(50.0)
    assert r.summary_line() == "%WER 50.00 [ 3 / 6, 1 ins, 1 del, 1 sub ]"
    assert [(u.sub, u.dels, u.ins) for u in r.utts] == [(1, 0, 1), (0, 1, 0)]
    assert r.nutt_err == 2 and r.ser == pytest.approx(100.0)


def test_character_error_rate_on_a_hand_computed_example():
    r = score_texts(REF, HYP)
    assert (r.char_sub, r.char_dels, r.char_ins, r.nchar) == (1, 4, 3, 26)
    assert r.cer == pytest.approx(100 * 8 / 26)


def test_perfect_hypothesis_scores_zero():
    r = score_texts(REF, dict(REF))
    assert r.wer == 0.0 and r.cer == 0.0 and r.cor == r.nref == 6 and r.nutt_err == 0


def test_alignment_block_is_sclite_like():
    block = format_alignment(score_texts(REF, HYP).utts[0])
    assert block.splitlines() == [
        "id: (u1)",
        "Scores: (#C #S #D #I) 2 1 0 1",
        "REF:  the CAT sat ***",
        "HYP:  the BAT sat ON",
        "EVAL:     S       I",
    ]


def test_deletion_is_starred_in_the_hypothesis_line():
    lines = format_alignment(score_texts(REF, HYP).utts[1]).splitlines()
    assert lines[2:] == ["REF:  hello BIG world", "HYP:  hello *** world", "EVAL:       D"]


def test_missing_hypotheses_count_as_deletions_and_warn(caplog):
    ref = dict(REF, u3="one two three")
    with caplog.at_level(logging.WARNING):
        r = score_texts(ref, HYP)
    assert r.missing == ["u3"]
    assert (r.sub, r.dels, r.ins, r.nref) == (1, 4, 1, 9)
    assert "1 of 3 reference utterances missing" in caplog.text
    assert "missing from the hypothesis" in format_alignment(r.utts[2])


def test_extra_hypothesis_ids_are_an_error_naming_them():
    with pytest.raises(S2SError, match="not in the reference: u7, u9"):
        score_texts(REF, dict(HYP, u7="x", u9="y"))


def test_empty_reference_utterance_counts_insertions():
    r = score_texts({"u1": "a b", "u2": ""}, {"u1": "a b", "u2": "c d"})
    assert (r.ins, r.nref) == (2, 2) and r.wer == pytest.approx(100.0)


def test_cli_writes_reports_and_prints_kaldi_summary(tmp_path, capsys):
    ref = write_table(tmp_path / "ref", REF)
    hyp = write_table(tmp_path / "hyp", HYP)
    out = tmp_path / "decode"
    assert score_cli.main(["--ref", str(ref), "--hyp", str(hyp), "--out-dir", str(out)]) == 0
    assert capsys.readouterr().out.strip() == "%WER 50.00 [ 3 / 6, 1 ins, 1 del, 1 sub ]"
    wer_txt = (out / "wer.txt").read_text()
    assert wer_txt.startswith("%WER 50.00 [ 3 / 6, 1 ins, 1 del, 1 sub ]\n%CER 30.77 [ 8 / 26,")
    assert "Scored 2 sentences, 0 not present in hyp." in wer_txt
    assert (out / "per_utt.txt").read_text().count("id: (") == 2


def test_cli_extra_hypothesis_exits_1_with_message(tmp_path):
    ref = write_table(tmp_path / "ref", REF)
    hyp = write_table(tmp_path / "hyp", dict(HYP, zz="oops"))
    proc = subprocess.run([sys.executable, "-m", "s2s.bin.score", "--ref", str(ref), "--hyp", str(hyp)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.startswith("score: error: ") and "zz" in proc.stderr


def _score_into_results(tmp_path, hyp_table, tag, results):
    (tmp_path / "test_clean").mkdir(exist_ok=True)
    ref = write_table(tmp_path / "test_clean" / "text", REF)  # the set name comes from this directory
    hyp = write_table(tmp_path / f"hyp_{tag}", hyp_table)
    assert score_cli.main(["--ref", str(ref), "--hyp", str(hyp), "--out-dir", str(tmp_path / "out"),
                           "--results", str(results), "--tag", tag]) == 0


def test_results_row_is_appended_once_and_replaced_on_rescoring(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\nSome prose.\n")
    _score_into_results(tmp_path, HYP, "exp_a", results)
    first = results.read_text()
    assert first == ("# Results\n\nSome prose.\n\n"
                     "| tag | set | WER | CER | S | D | I | N |\n"
                     "| --- | --- | --- | --- | --- | --- | --- | --- |\n"
                     "| exp_a | test_clean | 50.00 | 30.77 | 1 | 1 | 1 | 6 |\n")
    _score_into_results(tmp_path, HYP, "exp_a", results)
    assert results.read_text() == first  # idempotent

    _score_into_results(tmp_path, REF, "exp_a", results)  # same tag and set, better result: replaced
    text = results.read_text()
    assert "| exp_a | test_clean | 0.00 | 0.00 | 0 | 0 | 0 | 6 |" in text and "50.00" not in text

    _score_into_results(tmp_path, HYP, "exp_b", results)  # another experiment: a new row below
    rows = [ln for ln in results.read_text().splitlines() if ln.startswith("| exp_")]
    assert [r.split("|")[1].strip() for r in rows] == ["exp_a", "exp_b"]


def test_results_without_tag_is_an_error(tmp_path, capsys):
    ref = write_table(tmp_path / "ref", REF)
    assert score_cli.main(["--ref", str(ref), "--hyp", str(ref), "--results", str(tmp_path / "R.md")]) == 1
    assert "--tag" in capsys.readouterr().err


# Hand-made confusion: yes -> yes, yes, no; no -> no, yes; up -> up.
CREF = {"a1": "yes", "a2": "yes", "a3": "yes", "a4": "no", "a5": "no", "a6": "up"}
CHYP = {"a1": "yes", "a2": "yes", "a3": "no", "a4": "no", "a5": "yes", "a6": "up"}


def test_classification_metrics_on_a_hand_made_confusion():
    r = classification_report(CREF, CHYP)
    assert r.labels == ["no", "up", "yes"]
    assert r.confusion.tolist() == [[1, 0, 1], [0, 1, 0], [1, 0, 2]]
    assert r.accuracy == pytest.approx(100 * 4 / 6) and r.correct == 4 and r.errors == 2
    assert r.precision == pytest.approx({"no": 1 / 2, "up": 1.0, "yes": 2 / 3})
    assert r.recall == pytest.approx({"no": 1 / 2, "up": 1.0, "yes": 2 / 3})
    assert r.f1 == pytest.approx({"no": 1 / 2, "up": 1.0, "yes": 2 / 3})
    assert r.support == {"no": 2, "up": 1, "yes": 3}
    assert r.macro_f1 == pytest.approx((1 / 2 + 1 + 2 / 3) / 3)


def test_confusion_matrix_text_is_aligned():
    assert classification_report(CREF, CHYP).confusion_text().splitlines() == [
        "ref\\hyp no up yes",
        "no       1  0   1",
        "up       0  1   0",
        "yes      1  0   2",
    ]


def test_classification_missing_prediction_is_an_error_column():
    r = classification_report(CREF, {k: v for k, v in CHYP.items() if k != "a6"})
    assert r.labels[-1] == "<none>" and r.missing == ["a6"]
    assert r.correct == 3 and r.recall["up"] == 0.0


def test_cli_classify_writes_metrics_and_png(tmp_path, capsys):
    ref = write_table(tmp_path / "ref", CREF)
    hyp = write_table(tmp_path / "hyp", CHYP)
    out = tmp_path / "out"
    assert score_cli.main(["--task", "classify", "--ref", str(ref), "--hyp", str(hyp), "--out-dir", str(out)]) == 0
    assert capsys.readouterr().out.startswith("%ACC 66.67 [ 4 / 6, 2 err ]")
    assert "confusion (rows: reference, columns: hypothesis)" in (out / "classification.txt").read_text()
    assert (out / "confusion.png").read_bytes().startswith(PNG_MAGIC)


def test_confusion_png_is_written(tmp_path):
    plot_confusion(np.array([[3, 1], [0, 4]]), ["no", "yes"], tmp_path / "c.png")
    data = (tmp_path / "c.png").read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000


def test_alignment_heat_map_accepts_torch_and_writes_png(tmp_path):
    import torch

    attn = torch.softmax(torch.randn(30, 12), dim=-1)  # (decoder steps, encoder steps)
    plot_alignment(attn.T, tmp_path / "attn.png", title="attention")
    data = (tmp_path / "attn.png").read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000
    assert [p.name for p in tmp_path.iterdir()] == ["attn.png"]  # no temporary left behind


def test_mcd_is_zero_for_the_same_spectrogram_and_ignores_timing_not_spectra():
    import numpy as np

    from s2s.score.mcd import dtw_path_cost, mcd, mel_cepstrum

    rng = np.random.default_rng(0)
    a = rng.standard_normal((30, 40))
    assert mcd(a, a) == 0.0
    slow = np.repeat(a, 2, axis=0)  # the same frames, each held twice: DTW aligns them exactly
    assert mcd(a, slow) < 1e-9
    louder = a + 1.0  # a gain changes c0 only, which MCD leaves out
    assert mcd(a, louder) < 1e-9
    other = rng.standard_normal((30, 40))
    assert mcd(a, other) > 1.0
    # the textbook formula on aligned frames
    ca, co = mel_cepstrum(a), mel_cepstrum(other)
    direct = 10 / np.log(10) * np.sqrt(2 * ((ca - co) ** 2).sum(1)).mean()
    assert mcd(a, other) <= direct + 1e-9  # DTW can only find a cheaper alignment than the diagonal
    cost, length = dtw_path_cost(np.zeros((3, 1)), np.array([[0.0], [1.0], [0.0], [0.0]]))
    assert cost == 1.0 and length == 4
