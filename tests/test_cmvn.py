"""CMVN: Kaldi stats format, mean/std, global and per-utterance normalisation, errors."""

import subprocess
import sys
from pathlib import Path

import kaldi_native_fbank as knf
import kaldiio
import numpy as np
import pytest
import torch

from s2s.bin.compute_cmvn import main as compute_cmvn_main
from s2s.data.cmvn import Normalizer, compute_cmvn_stats, load_cmvn
from s2s.errors import S2SError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def data(tmp_path):
    """A data dir with feats.scp of three utterances, and the matrices themselves."""
    rng = np.random.RandomState(0)
    mats = {f"utt{i}": (rng.randn(20 + 7 * i, 5) * [1, 2, 3, 4, 5] + [10, -3, 0, 2, 7]).astype(np.float32)
            for i in range(3)}
    d = tmp_path / "data"
    d.mkdir()
    kaldiio.save_ark(str(tmp_path / "feats.ark"), mats, scp=str(d / "feats.scp"))
    return d, mats


def test_stats_are_kaldi_format_sums(data):
    d, mats = data
    stats = compute_cmvn_stats(d / "feats.scp", d / "cmvn.ark")
    allx = np.concatenate(list(mats.values())).astype(np.float64)
    assert stats.shape == (2, 6)
    np.testing.assert_allclose(stats[0, :5], allx.sum(0), rtol=1e-10)
    np.testing.assert_allclose(stats[1, :5], (allx ** 2).sum(0), rtol=1e-10)
    assert stats[0, 5] == len(allx) and stats[1, 5] == 0
    np.testing.assert_array_equal(kaldiio.load_mat(str(d / "cmvn.ark")), stats)


def test_stats_agree_with_kaldi_native_fbank_cmvn(data):
    d, mats = data
    stats = compute_cmvn_stats(d / "feats.scp", d / "cmvn.ark")
    acc = knf.CmvnAccumulator(5)
    for m in mats.values():
        acc.accumulate(m)
    np.testing.assert_allclose(np.asarray(acc.stats), stats, rtol=1e-6)


def test_load_cmvn_mean_std(data):
    d, mats = data
    compute_cmvn_stats(d / "feats.scp", d / "cmvn.ark")
    mean, std = load_cmvn(d / "cmvn.ark")
    allx = np.concatenate(list(mats.values())).astype(np.float64)
    np.testing.assert_allclose(mean, allx.mean(0), rtol=1e-5)
    np.testing.assert_allclose(std, allx.std(0), rtol=1e-5)
    assert mean.dtype == np.float32 and std.dtype == np.float32


def test_load_cmvn_sums_per_speaker_ark(tmp_path):
    a = np.array([[1.0, 2.0, 2.0], [1.0, 4.0, 0.0]])
    b = np.array([[3.0, 2.0, 2.0], [5.0, 2.0, 0.0]])
    kaldiio.save_ark(str(tmp_path / "cmvn.ark"), {"spk1": a, "spk2": b})
    mean, std = load_cmvn(tmp_path / "cmvn.ark")
    np.testing.assert_allclose(mean, [1.0, 1.0])
    np.testing.assert_allclose(std, [np.sqrt(0.5), np.sqrt(0.5)], rtol=1e-6)  # E[x^2] = 6/4, mean 1


def test_global_normalizer_normalises(data):
    d, mats = data
    compute_cmvn_stats(d / "feats.scp", d / "cmvn.ark")
    norm = Normalizer("global", 5).set_stats(*load_cmvn(d / "cmvn.ark"))
    allx = torch.from_numpy(np.concatenate(list(mats.values())))
    y = norm.normalize_one(allx)
    torch.testing.assert_close(y.mean(0), torch.zeros(5), atol=1e-4, rtol=0)
    torch.testing.assert_close(y.std(0, unbiased=False), torch.ones(5), atol=1e-4, rtol=0)
    assert set(norm.state_dict()) == {"mean", "std"}  # the stats travel with the model's weights


def test_normalizer_dim_mismatch():
    with pytest.raises(S2SError, match="CMVN has dim 3 but the features have dim 5"):
        Normalizer("global", 5).set_stats(np.zeros(3), np.ones(3))


def test_utterance_normalizer():
    norm = Normalizer("utterance", 4)
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(0)) * 3 + 5
    y = norm.normalize_one(x)
    torch.testing.assert_close(y.mean(0), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.std(0, unbiased=False), torch.ones(4), atol=1e-4, rtol=0)
    assert norm.state_dict() == {}
    const = norm.normalize_one(torch.ones(10, 4))  # zero variance: no division by zero
    assert torch.isfinite(const).all()
    with pytest.raises(S2SError, match="frames, 4"):
        norm.normalize_one(torch.zeros(3))


@pytest.mark.parametrize("mode", ["global", "utterance", "none"])
def test_a_padded_batch_is_normalised_as_each_utterance_alone(mode):
    norm = Normalizer(mode, 3)
    if mode == "global":
        norm.set_stats([1.0, 2.0, 3.0], [2.0, 0.5, 1.0])
    g = torch.Generator().manual_seed(1)
    utts = [torch.randn(n, 3, generator=g) * 2 + 1 for n in (7, 3, 1)]
    batch = torch.full((3, 7, 3), 9.0)
    for b, u in enumerate(utts):
        batch[b, : len(u)] = u
    out = norm(batch, torch.tensor([7, 3, 1]))
    for b, u in enumerate(utts):
        torch.testing.assert_close(out[b, : len(u)], norm.normalize_one(u))
        assert (out[b, len(u):] == 0).all()


def test_missing_feats_scp(tmp_path):
    with pytest.raises(S2SError, match="feats.scp: not found.*make_feats"):
        compute_cmvn_stats(tmp_path / "feats.scp", tmp_path / "cmvn.ark")


def test_mixed_dims_in_feats_scp(tmp_path):
    kaldiio.save_ark(str(tmp_path / "f.ark"), {"a": np.zeros((3, 4), np.float32), "b": np.zeros((3, 5), np.float32)},
                     scp=str(tmp_path / "feats.scp"))
    with pytest.raises(S2SError, match="feats.scp: b: feature dim 5 differs"):
        compute_cmvn_stats(tmp_path / "feats.scp", tmp_path / "cmvn.ark")
    assert not (tmp_path / "cmvn.ark").exists()


def test_broken_ark_reference(tmp_path):
    (tmp_path / "feats.scp").write_text(f"a {tmp_path}/gone.ark:5\n")
    with pytest.raises(S2SError, match="cannot read features"):
        compute_cmvn_stats(tmp_path / "feats.scp", tmp_path / "cmvn.ark")


@pytest.mark.parametrize("content,match", [
    (None, "CMVN stats not found"),
    (np.zeros((3, 4)), "2 x \\(dim\\+1\\)"),
    (np.zeros((2, 4)), "frame count is 0"),
])
def test_bad_stats_files(tmp_path, content, match):
    path = tmp_path / "cmvn.ark"
    if content is not None:
        kaldiio.save_mat(str(path), content)
    with pytest.raises(S2SError, match=match):
        load_cmvn(path)


def test_garbage_stats_file(tmp_path):
    (tmp_path / "cmvn.ark").write_bytes(b"this is not kaldi")
    with pytest.raises(S2SError, match="not a Kaldi matrix or ark"):
        load_cmvn(tmp_path / "cmvn.ark")


def test_entry_point_and_error(data, capsys):
    d, _ = data
    assert compute_cmvn_main(["--data", str(d)]) == 0
    assert load_cmvn(d / "cmvn.ark")[0].shape == (5,)
    capsys.readouterr()
    assert compute_cmvn_main(["--data", str(d / "nope")]) == 1
    assert capsys.readouterr().err.startswith("compute_cmvn: error: ")


def test_shell_script_writes_and_skips(data, tmp_path):
    d, _ = data
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path)}
    r = subprocess.run(["bash", "utils/compute_cmvn_stats.sh", str(d)], cwd=ROOT, capture_output=True, text=True,
                       env=env)
    assert r.returncode == 0, r.stderr
    assert (d / "cmvn.ark").is_file()
    r = subprocess.run(["bash", "utils/compute_cmvn_stats.sh", str(d)], cwd=ROOT, capture_output=True, text=True,
                       env=env)
    assert r.returncode == 0 and "up to date" in r.stdout
