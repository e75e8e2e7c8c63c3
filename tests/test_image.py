"""Image classification: ResNet v1.5/v2, the ImageNet crops, image data dirs and their errors, the
ImageNet layouts (folder and Kaggle) to data dirs, batches re-drawn per epoch, and egs/imagenet end to
end on a tiny Kaggle-layout archive served from 127.0.0.1."""

from __future__ import annotations

import csv
import os
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from corpora import serve_directory
from PIL import Image

from s2s.data.batching import BucketSampler
from s2s.data.images import eval_transform, load_image, random_resized_crop_box, read_image_dir, train_transform
from s2s.errors import S2SError
from s2s.models.registry import build_model
from s2s.recipe.image_folder import prepare_folder, prepare_imagenet

ROOT = Path(__file__).resolve().parents[1]
WNIDS = ["n01440764", "n01443537", "n01484850"]
NAMES = ["tench, Tinca tinca", "goldfish, Carassius auratus", "great white shark"]
COLORS = [(220, 30, 30), (30, 200, 40), (30, 40, 220)]


def picture(path: Path, cls: int, rng: np.random.Generator, size=(28, 24)) -> None:
    """A noisy image whose colour says its class."""
    base = np.array(COLORS[cls], dtype=np.float64)
    pixels = np.clip(base + rng.normal(0, 25, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="JPEG" if path.suffix == ".JPEG" else None)


def kaggle_tree(root: Path, n_train: int = 8, n_val: int = 3) -> Path:
    """ImageNet as Kaggle's imagenet-object-localization-challenge archive unpacks."""
    rng = np.random.default_rng(0)
    base = root / "ILSVRC/Data/CLS-LOC"
    rows = [["ImageId", "PredictionString"]]
    k = 0
    for c, wnid in enumerate(WNIDS):
        for i in range(n_train):
            picture(base / "train" / wnid / f"{wnid}_{i}.JPEG", c, rng)
        for _ in range(n_val):
            k += 1
            picture(base / "val" / f"ILSVRC2012_val_{k:08d}.JPEG", c, rng)
            rows.append([f"ILSVRC2012_val_{k:08d}", f"{wnid} 1 2 30 40 {wnid} 5 5 20 20"])
    with open(root / "LOC_val_solution.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    (root / "LOC_synset_mapping.txt").write_text("".join(f"{w} {n}\n" for w, n in zip(WNIDS, NAMES)))
    return root


# ---------------------------------------------------------------------------- models
def test_resnet50_v15_has_torchvisions_parameter_count_and_v2_its_own():
    v15 = build_model("image_classifier", {"model": "resnet", "model_conf": {"preset": "resnet50"}, "num_classes": 1000})
    assert sum(p.numel() for p in v15.parameters()) == 25_557_032  # torchvision resnet50
    v2 = build_model("image_classifier", {"model": "resnet", "model_conf": {"preset": "resnet50", "version": "2"},
                                          "num_classes": 1000})
    assert sum(p.numel() for p in v2.parameters()) == 25_549_352
    # v1.5 strides on the 3x3 convolution of the first bottleneck of a stage, not the 1x1
    first = v15.net.stages[3]
    assert first.conv1.stride == (1, 1) and first.conv2.stride == (2, 2)
    v15.eval()
    with torch.no_grad():
        assert v15(torch.rand(1, 3, 64, 64)).shape == (1, 1000)
    with pytest.raises(S2SError, match=r"expected images \(B, 3, H, W\)"):
        v15(torch.rand(1, 1, 64, 64))


def test_zero_init_residual_makes_every_block_start_as_the_identity():
    m = build_model("image_classifier", {"model": "resnet", "num_classes": 4, "model_conf": {
        "block": "bottleneck", "layers": [2], "width": 4, "stem": "small", "zero_init_residual": True}})
    m.eval()
    block = m.net.stages[1]  # no projection: the output is relu(x) = x for non-negative x
    x = torch.rand(2, 16, 5, 5)
    with torch.no_grad():
        assert torch.allclose(block(x), x)
    with pytest.raises(S2SError, match="version"):
        build_model("image_classifier", {"model": "resnet", "num_classes": 4, "model_conf": {"version": "3"}})
    with pytest.raises(S2SError, match="one value per channel"):
        build_model("image_classifier", {"model": "resnet", "num_classes": 4, "channels": 1})


# ---------------------------------------------------------------------------- crops
def test_crops_have_the_size_asked_and_the_random_one_stays_inside_the_image():
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        left, top, w, h = random_resized_crop_box(120, 80, (0.08, 1.0), (3 / 4, 4 / 3), g)
        assert 0 <= left and left + w <= 120 and 0 <= top and top + h <= 80
        assert 0.08 * 9600 * 0.9 <= w * h <= 9600
    im = Image.fromarray(np.arange(60 * 40 * 3, dtype=np.uint8).reshape(40, 60, 3) % 255)
    x = train_transform(im, 32, generator=torch.Generator().manual_seed(1))
    assert x.shape == (3, 32, 32) and 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    again = train_transform(im, 32, generator=torch.Generator().manual_seed(1))
    assert torch.equal(x, again)
    y = eval_transform(im, 32, 36)
    assert y.shape == (3, 32, 32)
    # a left-right flip of the centre crop is the crop of the flipped image
    flipped = eval_transform(im.transpose(Image.FLIP_LEFT_RIGHT), 32, 36)
    assert torch.allclose(flipped, y.flip(-1), atol=2 / 255)
    with pytest.raises(S2SError, match="resize_size 20 is smaller than image_size 32"):
        eval_transform(im, 32, 20)


# ---------------------------------------------------------------------------- data dirs
def image_dir(root: Path, rows: dict[str, tuple[str, str]]) -> Path:
    root.mkdir(parents=True)
    (root / "images.scp").write_text("".join(f"{u} {p}\n" for u, (p, _) in rows.items()))
    (root / "text").write_text("".join(f"{u} {lab}\n" for u, (_, lab) in rows.items() if lab))
    return root


def test_image_data_dir_errors_name_the_file_and_line(tmp_path):
    rng = np.random.default_rng(0)
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    picture(a, 0, rng)
    picture(b, 1, rng)
    d = image_dir(tmp_path / "ok", {"u1": (str(a), "x"), "u2": (str(b), "y")})
    assert read_image_dir(d, ["x", "y"]) == (["u1", "u2"], [str(a), str(b)], [0, 1])
    d = image_dir(tmp_path / "nolabel", {"u1": (str(a), "x"), "u2": (str(b), "")})
    with pytest.raises(S2SError, match=r"images.scp:2: image 'u2' has no label"):
        read_image_dir(d, ["x", "y"])
    assert read_image_dir(d.parent / "ok", ["x", "y"], need_labels=False)[2] == [0, 1]
    d = image_dir(tmp_path / "unknown", {"u1": (str(a), "x"), "u2": (str(b), "z")})
    with pytest.raises(S2SError, match=r"text:2: label 'z' of 'u2' is not one of the 2 classes"):
        read_image_dir(d, ["x", "y"])
    d = image_dir(tmp_path / "empty", {"u1": (str(a), "x")})
    (d / "text").write_text("u1 x\n\n")
    with pytest.raises(S2SError, match=r"text:2: empty line"):
        read_image_dir(d, ["x", "y"])
    bad = tmp_path / "bad.JPEG"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(S2SError, match=r"images.scp:7: .*bad.JPEG: not a readable image"):
        load_image(bad, 3, context="images.scp:7")


def test_imagenet_kaggle_layout_becomes_data_dirs_in_the_synset_order(tmp_path):
    src = kaggle_tree(tmp_path / "src", n_train=2, n_val=1)
    n = prepare_imagenet(src, tmp_path / "data")
    assert n == {"train": 6, "val": 3, "classes": 3}
    data = tmp_path / "data"
    assert (data / "labels.txt").read_text().split() == WNIDS
    assert (data / "synsets.txt").read_text().splitlines()[1] == f"{WNIDS[1]} {NAMES[1]}"
    val = dict(line.split() for line in (data / "val/text").read_text().splitlines())
    assert val == {"ILSVRC2012_val_00000001": WNIDS[0], "ILSVRC2012_val_00000002": WNIDS[1],
                   "ILSVRC2012_val_00000003": WNIDS[2]}
    train = (data / "train/images.scp").read_text().splitlines()
    assert train[0].split()[0] == f"{WNIDS[0]}_0" and Path(train[0].split()[1]).is_file()
    # the folder layout (val sorted into class folders) gives the same classes
    flat = tmp_path / "folder"
    for split in ("train", "val"):
        for wnid in WNIDS:
            picture(flat / split / wnid / "x.JPEG", WNIDS.index(wnid), np.random.default_rng(1))
    assert prepare_imagenet(flat, tmp_path / "data2") == {"train": 3, "val": 3, "classes": 3}
    assert (tmp_path / "data2/labels.txt").read_text().split() == WNIDS  # sorted folders without a map


def test_imagenet_preparation_names_missing_labels_bad_lines_and_unreadable_images(tmp_path):
    src = kaggle_tree(tmp_path / "src", n_train=1, n_val=1)
    sol = src / "LOC_val_solution.csv"
    lines = sol.read_text().splitlines()
    sol.write_text("\n".join(lines[:-1]) + "\n")  # the last val image loses its label
    with pytest.raises(S2SError, match=r"ILSVRC2012_val_00000003.JPEG: no label in .*LOC_val_solution.csv"):
        prepare_imagenet(src, tmp_path / "data")
    sol.write_text("\n".join(lines[:2] + ["ILSVRC2012_val_00000002,n99999999 1 2 3 4"] + lines[3:]) + "\n")
    with pytest.raises(S2SError, match=r"LOC_val_solution.csv:3: 'n99999999' is not a class of the synset map"):
        prepare_imagenet(src, tmp_path / "data")
    sol.write_text("\n".join(lines[:2] + [""] + lines[2:]) + "\n")
    with pytest.raises(S2SError, match=r"LOC_val_solution.csv:3: empty line"):
        prepare_imagenet(src, tmp_path / "data")
    sol.write_text("\n".join(lines) + "\n")
    (src / "ILSVRC/Data/CLS-LOC/train" / WNIDS[2] / "broken.JPEG").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(S2SError, match=r"1 unreadable image\(s\): .*broken.JPEG"):
        prepare_imagenet(src, tmp_path / "data")
    assert not (tmp_path / "data").exists()  # nothing written before the checks pass
    (src / "ILSVRC/Data/CLS-LOC/train/n00000001").mkdir()
    with pytest.raises(S2SError, match=r"folder\(s\) n00000001 are not classes of the synset map"):
        prepare_imagenet(src, tmp_path / "data", check=False)
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\n")
    fold = tmp_path / "fold"
    for c in "abc":
        picture(fold / c / "1.png", 0, np.random.default_rng(2))
    with pytest.raises(S2SError, match=r"folder\(s\) c are not classes"):
        prepare_folder(fold, tmp_path / "o", labels_file=labels)
    labels.write_text("a\nb\nc\n")
    assert prepare_folder(fold, tmp_path / "o", labels_file=labels) == 3


# ---------------------------------------------------------------------------- batching
def test_equal_length_batches_are_redrawn_every_epoch_and_reproducible():
    lengths = [1] * 40
    s = BucketSampler(lengths, batch_frames=8, seed=3)
    e0, e1 = s.epoch_global_batches(0), s.epoch_global_batches(1)
    assert len(e0) == len(e1) == len(s) == 5
    assert sorted(i for b in e0 for i in b) == list(range(40))
    assert {tuple(sorted(b)) for b in e0} != {tuple(sorted(b)) for b in e1}  # new companions
    assert {tuple(sorted(b)) for b in e0} != {tuple(range(k, k + 8)) for k in range(0, 40, 8)}  # not index blocks
    assert BucketSampler(lengths, batch_frames=8, seed=3).epoch_global_batches(1) == e1
    # different lengths still bucket by length
    s = BucketSampler([1] * 8 + [5] * 8, batch_frames=40, seed=1)
    for b in s.epoch_global_batches(2):
        assert len({1 if i < 8 else 5 for i in b}) == 1
    assert BucketSampler(lengths, batch_frames=8, shuffle=False).epoch_global_batches(4)[0] == list(range(8))


# ---------------------------------------------------------------------------- egs/imagenet
TINY = {"task": "image", "image_size": 16, "resize_size": 18, "model": "resnet",
        "model_conf": {"block": "basic", "layers": [1, 1], "width": 8, "stem": "small"},
        "optim": "sgd", "optim_conf": {"lr": 0.2, "momentum": 0.9, "larc": {"eta": 0.02, "mode": "clip"}},
        "scheduler": "cosine", "scheduler_conf": {"total_epochs": 6, "warmup_steps": 2},
        "max_epochs": 6, "batch_frames": 8, "seed": 1, "log_every_steps": 5}


def run_recipe(work: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", S2S_NO_PROGRESS="1")
    p = subprocess.run(["./run.sh", *args], cwd=work, env=env, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"run.sh failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


@pytest.mark.e2e
def test_imagenet_recipe_fetches_a_served_archive_trains_and_reports_top1_top5(tmp_path):
    src = kaggle_tree(tmp_path / "tree")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    archive = mirror / "imagenet-object-localization-challenge.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(src).as_posix())
    work = tmp_path / "imagenet"
    (work / "conf").mkdir(parents=True)
    for name in ("run.sh", "cmd.sh", "path.sh", "local", "utils"):
        os.symlink(ROOT / "egs/imagenet" / name, work / name)
    (work / "conf/tiny.yaml").write_text(yaml.safe_dump(TINY))
    p = run_recipe(work, "--stop-stage", "0", check=False)
    assert p.returncode == 1 and "give --imagenet DIR" in p.stderr
    with serve_directory(mirror) as server:
        run_recipe(work, "--imagenet-url", f"{server.url}/{archive.name}", "--train-config", "conf/tiny.yaml",
                   "--ngpu", "0")
    assert (work / "data/labels.txt").read_text().split() == WNIDS
    assert len((work / "data/train/images.scp").read_text().splitlines()) == 24
    scores = yaml.safe_load((work / "exp/tiny/eval_val/scores.json").read_text())
    assert scores["n"] == 9 and scores["top5"] == 100.0  # 3 classes: always among the top 5
    assert scores["accuracy"] >= 66.0, scores  # colours are easy
    assert (work / "exp/tiny/eval_val/confusion.png").is_file()
    results = (work / "RESULTS.md").read_text()
    assert f"| tiny: resnet, sgd, 6 epochs | {scores['accuracy']:.2f} | 100.00 |" in results
    assert "| OpenSeq2Seq ResNet-50 v2, SGD, 100 epochs | 76.38 | 93.08 |" in results


@pytest.mark.e2e
def test_mini_image_recipe_writes_digits_trains_and_tables_next_to_an_svm(tmp_path):
    work = tmp_path / "mini_image"
    work.mkdir()
    for name in ("run.sh", "cmd.sh", "path.sh", "conf", "local", "utils"):
        os.symlink(ROOT / "egs/mini_image" / name, work / name)
    run_recipe(work, "--configs", "conf/resnet_v15.yaml", "--train-args",
               "--max_epochs 6 --scheduler_conf.warmup_epochs 1 --scheduler_conf.total_epochs 6", "--ngpu", "0")
    counts = {s: len((work / f"data/{s}/images.scp").read_text().splitlines()) for s in ("train", "val", "test")}
    assert counts == {"train": 1078, "val": 359, "test": 360}  # 1797 digits, 60/20/20 per class
    with Image.open((work / "data/train/images.scp").read_text().split()[1]) as im:
        assert im.size == (8, 8) and im.mode == "L"
    scores = yaml.safe_load((work / "exp/resnet_v15/eval_test/scores.json").read_text())
    assert scores["accuracy"] > 80.0, scores  # 6 short epochs already learn most digits
    results = (work / "RESULTS.md").read_text()
    assert "| resnet_v15 | ResNet v1.5, basic [1, 1, 1] x 16 | 77,754 |" in results
    assert f"| {scores['accuracy']:.2f} | {scores['top5']:.2f} |" in results
    assert "| scikit-learn SVC | RBF kernel on the 64 raw pixels |" in results
