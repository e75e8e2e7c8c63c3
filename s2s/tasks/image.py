"""Image classification (ImageNet and the like): one image -> one label, cross-entropy; top-1 and top-5.

Data: image data dirs (``images.scp`` + ``text``, see ``s2s.data.images``); the classes and their
order come from ``labels`` (one per line; by default ``labels.txt`` beside the first training
dir). Training images get the random resized crop (``crop_scale``, ``crop_ratio``) and, with
``hflip``, a random left-right flip; validation and evaluation the resize-and-centre-crop
(``resize_size`` then ``image_size``). ``channels`` 1 reads images as grey, 3 as RGB; the model
(``s2s.models.image``) normalises with ``mean``/``std``.

Every image costs 1 in the trainer's batching, so ``batch_frames`` is images per batch per rank.
Validation reports ``loss``, ``accuracy`` (top-1, %) and ``top5`` (%).
"""

from __future__ import annotations

from pathlib import Path

import torch

from s2s.data.images import eval_transform, load_image, read_image_dir, train_transform
from s2s.errors import S2SError
from s2s.tasks.base import TASKS, Task, as_list
from s2s.tasks.classify import LabelLoss, task_labels


class ImageDataset:
    """Labelled images of one or more image data dirs, transformed for training or evaluation."""

    def __init__(self, data_dirs: list[str], labels: list[str], image_size: int, resize_size: int,
                 channels: int = 3, train: bool = False, crop_scale=(0.08, 1.0), crop_ratio=(3 / 4, 4 / 3),
                 hflip: bool = True, need_labels: bool = True, require_all_classes: bool = False):
        self.labels = labels
        self.image_size, self.resize_size, self.channels = image_size, resize_size, channels
        self.train, self.crop_scale, self.crop_ratio, self.hflip = train, tuple(crop_scale), tuple(crop_ratio), hflip
        self.ids: list[str] = []
        self.paths: list[str] = []
        self.targets: list[int] = []
        self.where: list[str] = []
        for d in data_dirs:
            ids, paths, targets = read_image_dir(d, labels, need_labels=need_labels)
            self.ids += ids
            self.paths += paths
            self.targets += targets
            self.where += [f"{Path(d) / 'images.scp'}:{k}" for k in range(1, len(ids) + 1)]
        seen = set(self.targets)
        empty = [label for i, label in enumerate(labels) if i not in seen]
        if empty and require_all_classes:
            raise S2SError(f"{', '.join(data_dirs)}: no images of class(es) {', '.join(empty[:8])}"
                           f"{' ...' if len(empty) > 8 else ''}; a class the model must learn needs training "
                           f"images: check the data preparation or remove the class from the labels file")
        self.lengths = [1] * len(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def image(self, i: int) -> torch.Tensor:
        im = load_image(self.paths[i], self.channels, context=self.where[i])
        if self.train:
            return train_transform(im, self.image_size, self.crop_scale, self.crop_ratio, self.hflip)
        return eval_transform(im, self.image_size, self.resize_size)

    def __getitem__(self, i: int) -> dict:
        return {"id": self.ids[i], "feats": self.image(i), "target": self.targets[i]}


def collate_images(items: list[dict]) -> dict:
    return {"ids": [it["id"] for it in items], "feats": torch.stack([it["feats"] for it in items]),
            "lengths": torch.ones(len(items), dtype=torch.long),
            "targets": torch.tensor([it["target"] for it in items], dtype=torch.long)}


LABEL_TABLE = "text"  # the data dir file that holds the reference labels
COLLATE = collate_images  # what evaluate_classifier batches this task's evaluation items with


@TASKS.register("image")
class ImageTask(LabelLoss, Task):
    name = "image"
    model_name = "image_classifier"
    vocab_layers = ("net.fc.",)
    cost_unit = "images"
    throughput_unit = "images"
    top5 = True
    defaults = {
        "labels": None,
        "image_size": 224,
        "resize_size": 256,
        "channels": 3,
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
        "crop_scale": [0.08, 1.0],
        "crop_ratio": [0.75, 1.3333333],
        "hflip": True,
        "model": "resnet",
        "model_conf": {},
        "label_smoothing": 0.0,
        "batch_frames": 64,
        "max_batch_size": 256,
    }
    help = {
        "labels": "labels file (one class per line, the class order); default: labels.txt beside the training dir",
        "image_size": "the square the network sees (training crop and evaluation centre crop)",
        "resize_size": "evaluation: the shorter side is resized to this before the centre crop",
        "channels": "1: read images as grey; 3: as RGB",
        "mean": "per-channel mean of [0, 1] pixels (normalisation inside the model)",
        "std": "per-channel standard deviation of [0, 1] pixels",
        "crop_scale": "training crop: range of the share of the image's area",
        "crop_ratio": "training crop: range of the aspect ratio (log-uniform)",
        "hflip": "training: flip left-right with probability 0.5 (off for digits and text)",
        "model": "image network (s2s.models.image.IMAGE_NETS)",
        "model_conf": "the network's arguments, e.g. {preset: resnet50, version: '1.5'}",
        "label_smoothing": "label smoothing of the cross-entropy loss",
        "batch_frames": "images per batch per rank",
        "max_batch_size": "at most this many images per batch per rank",
    }

    def __init__(self, conf: dict):
        super().__init__(conf)
        self.labels = task_labels(conf, (as_list(conf.get("train_data")) or [None])[0])
        if int(conf["channels"]) not in (1, 3):
            raise S2SError(f"config key 'channels' must be 1 (grey) or 3 (RGB), got {conf['channels']}")
        for key in ("crop_scale", "crop_ratio"):
            v = conf[key]
            if not (isinstance(v, (list, tuple)) and len(v) == 2 and 0 < float(v[0]) <= float(v[1])):
                raise S2SError(f"config key '{key}' must be [low, high] with 0 < low <= high, got {v!r}")

    def dataset(self, split: str):
        key = "train_data" if split == "train" else "valid_data"
        dirs = as_list(self.conf.get(key))
        if not dirs:
            return None
        c = self.conf
        return ImageDataset(dirs, self.labels, int(c["image_size"]), int(c["resize_size"]), int(c["channels"]),
                            train=split == "train", crop_scale=c["crop_scale"], crop_ratio=c["crop_ratio"],
                            hflip=bool(c["hflip"]), require_all_classes=split == "train")

    def collate(self, items):
        return collate_images(items)

    def model_args(self) -> dict:
        c = self.conf
        return {"model": c["model"], "model_conf": dict(c.get("model_conf") or {}), "num_classes": len(self.labels),
                "channels": int(c["channels"]), "mean": [float(x) for x in c["mean"]],
                "std": [float(x) for x in c["std"]]}

    def extra_meta(self) -> dict:
        c = self.conf
        return {"labels": list(self.labels), "image_size": int(c["image_size"]),
                "resize_size": int(c["resize_size"]), "channels": int(c["channels"])}


def dataset_from_meta(model, meta: dict, data_dir: str, need_labels: bool = True) -> ImageDataset:
    """The images of ``data_dir`` cropped as the checkpoint's model was validated (no augmentation)."""
    return ImageDataset([data_dir], list(meta["labels"]), int(meta["image_size"]), int(meta["resize_size"]),
                        int(meta["channels"]), need_labels=need_labels)
