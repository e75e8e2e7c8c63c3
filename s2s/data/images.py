"""Images for classification: reading, the ImageNet training and evaluation crops, and image data dirs.

An image data dir is a Kaldi-style data dir with

- ``images.scp``: ``<id> <path>`` (an image file PIL can read: JPEG, PNG, ...), and
- ``text``: ``<id> <label>``, the class of each image (as the ``classify`` task's ``text``),

and the class order (index = line) in ``labels.txt`` beside the data dirs. ``s2s.recipe.image_folder``
writes such dirs from the ImageNet folder layout.

Pixels are float32 in [0, 1], channels first ``(C, H, W)``; mean/std normalisation is part of the
model (``s2s.models.image``), so an exported model takes the same [0, 1] tensors.

Crops follow the usual ImageNet recipe (Szegedy et al. 2015, as torchvision's
``RandomResizedCrop``): in training a random area share in ``crop_scale`` of the image and an aspect
ratio in ``crop_ratio`` (log-uniform), resized to ``image_size``, flipped left-right with
probability 0.5 when ``hflip``; in evaluation the shorter side is resized to ``resize_size`` and
the centre ``image_size`` square is cut (224 of 256, as OpenSeq2Seq's imagenet_preprocessing).
Random draws use torch's generator, which the DataLoader seeds per worker.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from s2s.data.datadir import read_table
from s2s.errors import S2SError

IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp", ".gif")
MODES = {1: "L", 3: "RGB"}


def load_image(path, channels: int = 3, context: str | None = None):
    """The image at ``path`` as a PIL image with ``channels`` (1: grey, 3: RGB); S2SError naming
    ``context`` (e.g. ``images.scp:12``) and the file when it cannot be read."""
    from PIL import Image, UnidentifiedImageError

    where = f"{context}: " if context else ""
    try:
        with Image.open(path) as im:
            im.load()
            return im.convert(MODES[channels])
    except FileNotFoundError:
        raise S2SError(f"{where}{path}: image file not found; fix the path or remove its line from images.scp") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise S2SError(f"{where}{path}: not a readable image ({type(e).__name__}: {e}); replace the file "
                       f"or remove its entry") from None


def to_tensor(image) -> torch.Tensor:
    """PIL image -> float32 (C, H, W) in [0, 1]."""
    a = np.asarray(image, dtype=np.uint8)
    if a.ndim == 2:
        a = a[:, :, None]
    return torch.from_numpy(a.transpose(2, 0, 1).copy()).float().div_(255.0)


def random_resized_crop_box(width: int, height: int, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
                            generator: torch.Generator | None = None) -> tuple[int, int, int, int]:
    """(left, top, w, h) of a random crop of ``scale`` of the area and aspect ``ratio`` (10 tries, then
    the centre crop of the image at the nearest allowed ratio)."""
    area = width * height
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        u = torch.rand(3, generator=generator).tolist()
        target = area * (scale[0] + (scale[1] - scale[0]) * u[0])
        aspect = math.exp(log_lo + (log_hi - log_lo) * u[1])
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            left = int(torch.randint(0, width - w + 1, (1,), generator=generator))
            top = int(torch.randint(0, height - h + 1, (1,), generator=generator))
            return left, top, w, h
    aspect = width / height
    if aspect < ratio[0]:
        w, h = width, int(round(width / ratio[0]))
    elif aspect > ratio[1]:
        w, h = int(round(height * ratio[1])), height
    else:
        w, h = width, height
    return (width - w) // 2, (height - h) // 2, w, h


def train_transform(image, image_size: int, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), hflip: bool = True,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Random resized crop (and a random left-right flip) -> (C, image_size, image_size)."""
    from PIL import Image

    left, top, w, h = random_resized_crop_box(image.width, image.height, scale, ratio, generator)
    image = image.resize((image_size, image_size), Image.BILINEAR, box=(left, top, left + w, top + h))
    if hflip and float(torch.rand(1, generator=generator)) < 0.5:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    return to_tensor(image)


def eval_transform(image, image_size: int, resize_size: int) -> torch.Tensor:
    """Shorter side resized to ``resize_size``, then the centre ``image_size`` square."""
    from PIL import Image

    if resize_size < image_size:
        raise S2SError(f"resize_size {resize_size} is smaller than image_size {image_size}; the centre crop "
                       f"must fit (ImageNet: 256 and 224)")
    scale = resize_size / min(image.width, image.height)
    w, h = max(resize_size, int(round(image.width * scale))), max(resize_size, int(round(image.height * scale)))
    image = image.resize((w, h), Image.BILINEAR)
    left, top = (w - image_size) // 2, (h - image_size) // 2
    return to_tensor(image.crop((left, top, left + image_size, top + image_size)))


def read_image_dir(data_dir, labels: list[str], need_labels: bool = True) -> tuple[list[str], list[str], list[int]]:
    """(ids, image paths, class indices) of an image data dir, in images.scp order; errors name the file and
    line: an image without a label, a label not in ``labels``, a label without an image. Without
    ``need_labels`` a dir with no ``text`` gives targets -1."""
    d = Path(data_dir)
    scp = d / "images.scp"
    if not scp.is_file():
        raise S2SError(f"{scp}: file not found; an image data dir has images.scp (id path) and text (id label): "
                       f"write it with python -m s2s.recipe.image_folder")
    images = read_table(scp)
    text_path = d / "text"
    if not text_path.is_file() and not need_labels:
        ids = list(images)
        return ids, [images[u] for u in ids], [-1] * len(ids)
    text = read_table(text_path)
    index = {label: i for i, label in enumerate(labels)}
    ids, paths, targets = [], [], []
    for lineno, (u, label) in enumerate(text.items(), 1):
        if u not in images:
            raise S2SError(f"{text_path}:{lineno}: {u!r} has a label but no image in {scp}; add it or remove "
                           f"the line")
        if label not in index:
            raise S2SError(f"{text_path}:{lineno}: label {label!r} of {u!r} is not one of the {len(labels)} "
                           f"classes ({', '.join(labels[:8])}{', ...' if len(labels) > 8 else ''}); fix the "
                           f"data or the labels file")
    for lineno, (u, path) in enumerate(images.items(), 1):
        if u not in text:
            raise S2SError(f"{scp}:{lineno}: image {u!r} has no label in {text_path}; add '{u} LABEL' there or "
                           f"remove the line")
        ids.append(u)
        paths.append(path)
        targets.append(index[text[u]])
    if not ids:
        raise S2SError(f"{d}: no images")
    return ids, paths, targets
