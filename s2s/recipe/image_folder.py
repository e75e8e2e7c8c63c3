"""Image data dirs from folder trees: the ImageNet layouts and any class-per-folder tree.

``imagenet SRC OUT``: ILSVRC-2012 classification in either published layout

- the folder layout (``SRC/train/<wnid>/*.JPEG``, ``SRC/val/<wnid>/*.JPEG``: the val images sorted
  into class folders, as torchvision's ImageFolder and DeepLearningExamples expect), or
- Kaggle's ``imagenet-object-localization-challenge`` tree (``SRC/ILSVRC/Data/CLS-LOC/train/<wnid>/``,
  a flat ``.../CLS-LOC/val/`` and ``SRC/LOC_val_solution.csv``, whose ``PredictionString`` starts with
  each val image's wnid),

with the synset map ``SRC/LOC_synset_mapping.txt`` (``<wnid> <names>`` lines, the class order: index =
line; ``--synsets`` names another). Without a map the classes are the sorted training folders (the
same order). Writes OUT/train and OUT/val (``images.scp``, ``text``: the wnid), OUT/labels.txt and
OUT/synsets.txt.

``folder DIR OUT``: every image under ``DIR/<class>/`` becomes an item of the data dir OUT labelled
``<class>`` (``--labels`` fixes the classes and their order).

Every image's header is read (``--check-images false`` skips it, e.g. for a tree already checked), so
an unreadable or truncated file is named here, at preparation, rather than hours into training.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from s2s.data.datadir import write_table
from s2s.data.images import IMAGE_EXTENSIONS
from s2s.errors import S2SError
from s2s.io import atomic_open

SHOW = 5


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def check_images(paths: list[Path]) -> None:
    """S2SError listing the files whose image header PIL cannot read."""
    from PIL import Image

    bad = []
    for p in paths:
        try:
            with Image.open(p) as im:
                im.verify()
        except Exception as e:  # PIL raises many kinds for damaged files
            bad.append(f"{p} ({type(e).__name__}: {e})")
    if bad:
        raise S2SError(f"{len(bad)} unreadable image(s): {'; '.join(bad[:SHOW])}{' ...' if len(bad) > SHOW else ''}; "
                       f"replace or delete them and run again")


def read_synsets(path: Path) -> dict[str, str]:
    """``wnid -> names`` of a synset map, in file order; errors name the line."""
    out: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise S2SError(f"{path}: not valid UTF-8; re-encode it") from None
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            raise S2SError(f"{path}:{lineno}: empty line; remove it (a synset map has one '<wnid> <names>' per line)")
        wnid, _, names = line.strip().partition(" ")
        if wnid in out:
            raise S2SError(f"{path}:{lineno}: {wnid} is listed twice; remove the repeat")
        out[wnid] = names.strip() or wnid
    if len(out) < 2:
        raise S2SError(f"{path}: needs at least two classes, found {len(out)}")
    return out


def class_folder_items(root: Path, labels: list[str] | None) -> dict[str, tuple[Path, str]]:
    """``id -> (image path, class)`` of a ``root/<class>/...`` tree; a folder not in ``labels`` is an error."""
    if not root.is_dir():
        raise S2SError(f"{root}: not a directory")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        raise S2SError(f"{root}: no class folders (expected {root}/<class>/<images>)")
    if labels is not None:
        unknown = [c for c in classes if c not in set(labels)]
        if unknown:
            raise S2SError(f"{root}: folder(s) {', '.join(unknown[:SHOW])} are not classes of the synset map/labels "
                           f"file; remove them or give the matching map")
    items: dict[str, tuple[Path, str]] = {}
    for c in classes:
        for p in list_images(root / c):
            rel = p.relative_to(root / c).with_suffix("")
            key = "-".join(rel.parts)
            key = key if key.startswith(c) else f"{c}-{key}"
            if key in items:
                raise S2SError(f"{p}: gives the id {key!r} twice (another file of the same name); rename one")
            items[key] = (p, c)
    if not items:
        raise S2SError(f"{root}: no images ({', '.join(IMAGE_EXTENSIONS)}) in its class folders")
    return items


def read_val_solution(path: Path, synsets: list[str]) -> dict[str, str]:
    """``image id -> wnid`` of Kaggle's LOC_val_solution.csv (``ImageId,PredictionString``)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows or [h.strip() for h in rows[0][:2]] != ["ImageId", "PredictionString"]:
        raise S2SError(f"{path}:1: expected the header 'ImageId,PredictionString' (Kaggle's LOC_val_solution.csv)")
    known = set(synsets)
    out = {}
    for lineno, row in enumerate(rows[1:], 2):
        if not row or not "".join(row).strip():
            raise S2SError(f"{path}:{lineno}: empty line; remove it")
        if len(row) < 2 or not row[1].split():
            raise S2SError(f"{path}:{lineno}: no label for {row[0]!r}; the PredictionString starts with the wnid")
        wnid = row[1].split()[0]
        if wnid not in known:
            raise S2SError(f"{path}:{lineno}: {wnid!r} is not a class of the synset map")
        out[row[0].strip()] = wnid
    return out


def write_dir(out: Path, items: dict[str, tuple[Path, str]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_table(out / "images.scp", {k: str(p.resolve()) for k, (p, _) in items.items()})
    write_table(out / "text", {k: c for k, (_, c) in items.items()})


def write_labels(out: Path, labels: list[str], names: dict[str, str] | None = None) -> None:
    with atomic_open(out / "labels.txt") as f:
        f.writelines(label + "\n" for label in labels)
    if names:
        with atomic_open(out / "synsets.txt") as f:
            f.writelines(f"{label} {names.get(label, label)}\n" for label in labels)


def prepare_imagenet(src, out, synsets=None, check: bool = True) -> dict[str, int]:
    """Data dirs OUT/train and OUT/val of an ImageNet tree (see the module docstring); counts per set."""
    src, out = Path(src), Path(out)
    root = next((r for r in (src, src / "ILSVRC/Data/CLS-LOC") if (r / "train").is_dir()), None)
    if root is None:
        raise S2SError(f"{src}: no ImageNet tree (train/<wnid>/ or ILSVRC/Data/CLS-LOC/train/<wnid>/); give the "
                       f"directory the archive was unpacked into")
    map_path = Path(synsets) if synsets else src / "LOC_synset_mapping.txt"
    if synsets and not map_path.is_file():
        raise S2SError(f"{map_path}: synset map not found (--synsets)")
    names = read_synsets(map_path) if map_path.is_file() else None
    train = class_folder_items(root / "train", list(names) if names else None)
    labels = list(names) if names else sorted({c for _, c in train.values()})
    val_root = root / "val"
    if not val_root.is_dir():
        raise S2SError(f"{val_root}: no validation images; the tree needs val/ beside train/")
    if any(p.is_dir() for p in val_root.iterdir()):
        val = class_folder_items(val_root, labels)
    else:
        solution = src / "LOC_val_solution.csv"
        if not solution.is_file():
            raise S2SError(f"{val_root} holds the val images in one folder, but {solution} (their labels) is "
                           f"missing; add it, or sort the images into val/<wnid>/ folders")
        wnid_of = read_val_solution(solution, labels)
        val = {}
        for p in list_images(val_root):
            if p.stem not in wnid_of:
                raise S2SError(f"{p}: no label in {solution}; add its line or remove the image")
            val[p.stem] = (p, wnid_of[p.stem])
        if not val:
            raise S2SError(f"{val_root}: no images")
    if check:
        check_images([p for p, _ in list(train.values()) + list(val.values())])
    write_dir(out / "train", train)
    write_dir(out / "val", val)
    write_labels(out, labels, names)
    return {"train": len(train), "val": len(val), "classes": len(labels)}


def prepare_folder(folder, out, labels_file=None, check: bool = True) -> int:
    """Data dir OUT of a ``FOLDER/<class>/`` tree; the number of images."""
    from s2s.tasks.classify import read_labels

    labels = read_labels(labels_file) if labels_file else None
    items = class_folder_items(Path(folder), labels)
    if check:
        check_images([p for p, _ in items.values()])
    write_dir(Path(out), items)
    return len(items)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="s2s.recipe.image_folder", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("imagenet", help="ImageNet tree -> OUT/train, OUT/val, OUT/labels.txt")
    a.add_argument("src")
    a.add_argument("out")
    a.add_argument("--synsets", default=None, help="synset map (default SRC/LOC_synset_mapping.txt)")
    a.add_argument("--check-images", default="true", choices=["true", "false"])
    b = sub.add_parser("folder", help="FOLDER/<class>/ images -> data dir OUT")
    b.add_argument("folder")
    b.add_argument("out")
    b.add_argument("--labels", default=None, help="classes, one per line (folders must be among them)")
    b.add_argument("--check-images", default="true", choices=["true", "false"])
    args = p.parse_args(argv)
    try:
        if args.cmd == "imagenet":
            n = prepare_imagenet(args.src, args.out, args.synsets, args.check_images == "true")
            print(f"s2s.recipe.image_folder: {n['train']} training and {n['val']} validation images of "
                  f"{n['classes']} classes -> {args.out}")
        else:
            n = prepare_folder(args.folder, args.out, args.labels, check=args.check_images == "true")
            print(f"s2s.recipe.image_folder: {n} images -> {args.out}")
    except S2SError as e:
        print(f"s2s.recipe.image_folder: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
