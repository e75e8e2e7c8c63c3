"""Utterance classification (keyword spotting): a fixed-length clip -> one label, cross-entropy.

A data dir's ``text`` holds the label of each utterance. Every clip is brought to
``clip_seconds`` (Speech Commands: 1 s): a waveform is zero-padded at the end or
cut, dumped features are padded with the frames digital silence gives or cut, so
every item has the same number of frames and a model may flatten them.

Features come from DATA/feats.scp (utils/make_feats.sh) when the data dir has it,
else from the audio with the frontend of DATA/frontend.yaml or ``frontend_conf``.
Training with waveform augmentation (``noise_conf``: time_shift, background_noise,
white_noise, time_stretch) always reads the audio, since those act on samples.
The model (``s2s.models.classifiers.ClassifierModel``) owns the front end, the
normalisation and SpecAugment (``specaug_conf``, training only), as ASR models do.

Labels and their order (the class indices) come from ``labels``: a file with one
label per line (the recipe's data/<task>/labels.txt), by default the
``labels.txt`` beside the first training dir, else the sorted training labels.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from s2s.data.cmvn import cmvn_from_config
from s2s.data.datadir import DataDir
from s2s.data.features import build_frontend
from s2s.data.sources import check_dumped_frontend, dumped_frontend_conf
from s2s.errors import S2SError
from s2s.tasks.base import TASKS, Task, as_list

log = logging.getLogger("s2s.classify")

SHOW = 5  # examples named in an error message


# ---------------------------------------------------------------------------- labels
def read_labels(path) -> list[str]:
    """Labels in class-index order from a file with one label per line; S2SError on empty or repeated ones."""
    path = Path(path)
    if not path.is_file():
        raise S2SError(f"{path}: labels file not found; run the data preparation stage, or set 'labels' "
                       f"to a file with one label per line")
    labels = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        label = line.strip()
        if not label:
            continue
        if len(label.split()) != 1:
            raise S2SError(f"{path}:{lineno}: a label is one token, got {label!r}")
        if label in labels:
            raise S2SError(f"{path}:{lineno}: label {label!r} is listed twice; remove the repeat")
        labels.append(label)
    if len(labels) < 2:
        raise S2SError(f"{path}: needs at least two labels, found {len(labels)}")
    return labels


def task_labels(conf: dict, first_dir: str | None, table: str = "text") -> list[str]:
    """A classification task's classes in index order: the ``labels`` file of the config, else
    ``labels.txt`` beside the first training dir, else the sorted labels of that dir's ``table``."""
    if conf.get("labels"):
        return read_labels(conf["labels"])
    if first_dir is None:
        raise S2SError("config key 'labels' is not set and there is no train_data to find labels.txt beside")
    beside = Path(first_dir).parent / "labels.txt"
    if beside.is_file():
        return read_labels(beside)
    from s2s.data.datadir import read_table

    return sorted(set(read_table(Path(first_dir) / table).values()))


class LabelLoss:
    """Cross-entropy training and accuracy validation for tasks whose batches hold ``feats``,
    ``lengths`` and class ``targets`` and whose model maps ``(feats, lengths)`` to logits (B, C).
    ``top5`` adds top-5 accuracy to validation."""

    top5 = False

    def forward_loss(self, model, batch):
        logits = model(batch["feats"], batch["lengths"]).float()
        loss = F.cross_entropy(logits, batch["targets"], reduction="sum",
                               label_smoothing=float(self.conf.get("label_smoothing", 0.0)))
        n = float(len(batch["ids"]))
        correct = (logits.argmax(-1) == batch["targets"]).sum().item()
        return loss, n, {"ce": loss.item() / n, "accuracy": 100.0 * correct / n}

    @torch.no_grad()
    def evaluate(self, model, loader) -> dict:
        total, count, top1, top5 = 0.0, 0, 0, 0
        for batch in loader:
            logits = model(batch["feats"], batch["lengths"]).float()
            total += F.cross_entropy(logits, batch["targets"], reduction="sum").item()
            top1 += topk_correct(logits, batch["targets"], 1)
            if self.top5:
                top5 += topk_correct(logits, batch["targets"], 5)
            count += len(batch["ids"])
        n = max(count, 1)
        out = {"loss": total / n, "accuracy": 100.0 * top1 / n}
        return {**out, "top5": 100.0 * top5 / n} if self.top5 else out


def topk_correct(logits: torch.Tensor, targets: torch.Tensor, k: int) -> int:
    """How many rows have their target among the ``k`` highest logits."""
    k = min(k, logits.size(-1))
    return int((logits.topk(k, dim=-1).indices == targets[:, None]).any(-1).sum())


def fix_length(wav: np.ndarray, num_samples: int) -> np.ndarray:
    """``wav`` zero-padded at the end or cut to exactly ``num_samples``."""
    if len(wav) >= num_samples:
        return wav[:num_samples]
    return np.concatenate([wav, np.zeros(num_samples - len(wav), dtype=wav.dtype)])


def fix_frames(feats: torch.Tensor, num_frames: int, pad_frame: torch.Tensor) -> torch.Tensor:
    """``feats`` (T, D) padded with copies of ``pad_frame`` (D,) or cut to exactly ``num_frames``."""
    t = feats.shape[0]
    if t >= num_frames:
        return feats[:num_frames]
    return torch.cat([feats, pad_frame.to(feats.dtype).expand(num_frames - t, -1)])


class ClipShape:
    """The fixed clip geometry of a frontend: samples, frames, and the feature frame of silence."""

    def __init__(self, frontend, clip_seconds: float):
        if clip_seconds <= 0:
            raise S2SError(f"config key 'clip_seconds' must be positive, got {clip_seconds}")
        fe = self.frontend = frontend
        self.sample_rate = fe.sample_rate
        self.num_samples = int(round(clip_seconds * fe.sample_rate))
        self.num_frames = fe.num_frames(self.num_samples)
        if self.num_frames < 1:
            raise S2SError(f"clip_seconds {clip_seconds} gives no feature frames; make it longer")
        self.dim = fe.dim
        # What a padded stretch of digital silence looks like to this frontend.
        silence = fe.extract(np.zeros(self.num_samples, dtype=np.float32), fe.sample_rate)
        self.pad_frame = silence[self.num_frames // 2].clone()


# ---------------------------------------------------------------------------- dataset
class ClassifyDataset:
    """Labelled fixed-length clips of one or more data dirs.

    Items are unnormalised features of ``shape.num_frames`` frames (the model
    normalises). ``wave_augment`` forces reading audio (it needs samples); otherwise
    DATA/feats.scp is used where present. Clips whose audio is not at the frontend's sample rate,
    or not mono, are an S2SError listing them, or with ``skip_bad_audio`` a logged,
    counted skip. A label not in ``labels`` is an S2SError naming the file and line.
    """

    def __init__(self, data_dirs: list[str], labels: list[str], shape: ClipShape, wave_augment=None,
                 cache_audio: bool = False, skip_bad_audio: bool = False, require_all_classes: bool = False,
                 need_labels: bool = True):
        import kaldiio

        self.labels = labels
        self.index = {label: i for i, label in enumerate(labels)}
        self.shape = shape
        self.wave_augment = wave_augment
        self.cache: dict[int, np.ndarray] | None = {} if cache_audio else None
        self.ids: list[str] = []
        self.targets: list[int] = []
        self._src: list[tuple] = []  # ("scp", loader, key) or ("wav", spec, context)
        bad: list[str] = []
        for d in data_dirs:
            dd = DataDir(d)
            if dd.has("feats.scp") and wave_augment is None:
                check_dumped_frontend(dd, shape.frontend.conf)
                loader = kaldiio.load_scp(str(dd.file("feats.scp")))
                src = {u: ("scp", loader, u) for u in loader.keys()}
            else:
                if dd.has("segments"):
                    raise S2SError(f"{dd.file('segments')}: classification takes one clip per wav.scp entry; "
                                   f"cut the segments into files or dump features first")
                wav_path = dd.file("wav.scp")
                src = {u: ("wav", spec, f"{wav_path}: {u}") for u, spec in dd.wav_scp().items()}
            text = dd.text() if (need_labels or dd.has("text")) else {u: None for u in src}
            for lineno, (u, label) in enumerate(text.items(), 1):
                if u not in src:
                    raise S2SError(f"{dd.file('text')}:{lineno}: utterance {u!r} has no features/audio; "
                                   f"run utils/fix_data_dir.sh {d}")
                if label is not None and label not in self.index:
                    raise S2SError(
                        f"{dd.file('text')}:{lineno}: label {label!r} of {u!r} is not one of the "
                        f"{len(labels)} labels ({', '.join(labels[:8])}{', ...' if len(labels) > 8 else ''}); "
                        f"fix the data or the labels file"
                    )
                if src[u][0] == "wav" and not self._audio_ok(src[u][1], bad):
                    continue
                self.ids.append(u)
                self.targets.append(-1 if label is None else self.index[label])
                self._src.append(src[u])
        if bad:
            msg = (f"{len(bad)} clip(s) are not {shape.sample_rate} Hz mono or unreadable: "
                   f"{'; '.join(bad[:SHOW])}{' ...' if len(bad) > SHOW else ''}")
            if not skip_bad_audio:
                raise S2SError(msg + ". Convert them (sox IN.wav -r 16000 -c 1 OUT.wav) or set "
                                     "skip_bad_audio: true to leave them out")
            log.warning("%s; skipped (skip_bad_audio)", msg)
        if not self.ids:
            raise S2SError(f"{', '.join(data_dirs)}: no utterances to use")
        counts = np.bincount(np.array([t for t in self.targets if t >= 0], dtype=np.int64), minlength=len(labels))
        empty = [labels[i] for i in range(len(labels)) if counts[i] == 0]
        if empty and need_labels:
            msg = f"{', '.join(data_dirs)}: no examples of class(es) {', '.join(empty)}"
            if require_all_classes:
                raise S2SError(msg + "; a class the model must learn needs training data: check the data "
                                     "preparation or remove the class from the labels file")
            log.warning("%s (%d of %d classes empty)", msg, len(empty), len(labels))
        self.lengths = [shape.num_frames] * len(self.ids)

    def _audio_ok(self, spec: str, bad: list[str]) -> bool:
        """Header check of a file entry (pipes are checked when read)."""
        if spec.rstrip().endswith("|"):
            return True
        import soundfile as sf

        try:
            info = sf.info(spec)
        except Exception as e:  # missing or not audio
            bad.append(f"{spec} ({type(e).__name__}: {e})")
            return False
        if info.samplerate != self.shape.sample_rate or info.channels != 1:
            bad.append(f"{spec} ({info.samplerate} Hz, {info.channels} channel(s))")
            return False
        return True

    def __len__(self) -> int:
        return len(self.ids)

    def _waveform(self, i: int) -> np.ndarray:
        if self.cache is not None and i in self.cache:
            return self.cache[i]
        from s2s.data.audio import load_audio

        _, spec, context = self._src[i]
        wav, _ = load_audio(spec, target_sr=self.shape.sample_rate,
                            resample=bool(self.shape.frontend.conf.get("resample", False)), context=context)
        wav = fix_length(wav, self.shape.num_samples)
        if self.cache is not None:
            self.cache[i] = wav
        return wav

    def features_of(self, i: int) -> torch.Tensor:
        """Fixed-length (num_frames, dim) features of item ``i`` (from augmented audio if configured)."""
        src = self._src[i]
        if src[0] == "scp":
            feats = torch.from_numpy(np.array(src[1][src[2]], dtype=np.float32))
        else:
            wav = self._waveform(i)
            if self.wave_augment is not None:
                wav = fix_length(self.wave_augment(wav, self.shape.sample_rate), self.shape.num_samples)
            feats = self.shape.frontend.extract(wav, self.shape.sample_rate)
        if feats.shape[1] != self.shape.dim:
            raise S2SError(f"{self.ids[i]}: features have dim {feats.shape[1]}, the frontend gives "
                           f"{self.shape.dim}; recompute features with the training frontend")
        return fix_frames(feats, self.shape.num_frames, self.shape.pad_frame)

    def __getitem__(self, i: int) -> dict:
        return {"id": self.ids[i], "feats": self.features_of(i), "target": self.targets[i]}


def collate_classify(items: list[dict]) -> dict:
    feats = torch.stack([it["feats"] for it in items])
    return {"ids": [it["id"] for it in items], "feats": feats,
            "lengths": torch.full((len(items),), feats.shape[1], dtype=torch.long),
            "targets": torch.tensor([it["target"] for it in items], dtype=torch.long)}


COLLATE = collate_classify  # what evaluate_classifier batches this task's evaluation items with
LABEL_TABLE = "text"  # the data dir file that holds the reference labels


# ---------------------------------------------------------------------------- task
@TASKS.register("classify")
class ClassifyTask(LabelLoss, Task):
    name = "classify"
    model_name = "classifier"
    vocab_layers = ("net.fc.",)
    cost_unit = "feature frames"
    throughput_unit = "clips"
    defaults = {
        "labels": None,            # labels file (one per line); default: labels.txt beside the train dir
        "frontend_conf": None,     # used when the data dir has no frontend.yaml (features on the fly)
        "cmvn": "global",          # global (DATA/cmvn.ark of the train dir) | utterance | none
        "cmvn_file": None,
        "clip_seconds": 1.0,       # every clip padded/cut to this length
        "model": "matchboxnet",    # a name in s2s.models.classifiers.CLASSIFIERS
        "model_conf": {},
        "specaug_conf": None,      # SpecAugment inside the model (training only)
        "noise_conf": None,        # waveform augmentations (training only): time_shift, background_noise, ...
        "label_smoothing": 0.0,
        "cache_audio": False,      # keep decoded clips in memory (small corpora, augmented training)
        "skip_bad_audio": False,   # leave out clips that are not mono at the frontend's rate (logged)
    }
    help = {
        "labels": "labels file (one per line); default: labels.txt beside the training data dir",
        "frontend_conf": "front end when the data dir has no frontend.yaml (features computed on the fly)",
        "cmvn": "normalisation inside the model: global (cmvn.ark of the train dir), utterance or none",
        "cmvn_file": "global CMVN stats to use instead of TRAIN_DIR/cmvn.ark",
        "clip_seconds": "every clip is padded or cut to this length",
        "model": "classifier network",
        "model_conf": "the classifier's arguments",
        "specaug_conf": "SpecAugment inside the model, training only; null: off",
        "noise_conf": "waveform augmentations, training only: time_shift, background_noise (a data dir "
                      "of noise), ...",
        "label_smoothing": "label smoothing of the cross-entropy loss",
        "cache_audio": "keep decoded clips in memory (small corpora with waveform augmentation)",
        "skip_bad_audio": "leave out (and log) clips that are not mono at the front end's rate instead of failing",
    }

    def __init__(self, conf: dict):
        super().__init__(conf)
        train_dirs = as_list(conf.get("train_data"))
        first = train_dirs[0] if train_dirs else None
        frontend_conf = (dumped_frontend_conf(first) if first else None) or conf.get("frontend_conf")
        if frontend_conf is None:
            raise S2SError("classify: no front end: dump features (utils/make_feats.sh writes frontend.yaml into the "
                           "data dir) or set frontend_conf: {type: fbank, ...}")
        self.shape = ClipShape(build_frontend(frontend_conf), float(conf["clip_seconds"]))
        self.labels = task_labels(conf, first)
        self._first_dir = first
        self._normalizer = None

    # -- data
    def dataset(self, split: str):
        key = "train_data" if split == "train" else "valid_data"
        dirs = as_list(self.conf.get(key))
        if not dirs:
            return None
        wave_aug = None
        if split == "train":
            from s2s.data.augment import build_augment

            wave_aug = build_augment(self.conf.get("noise_conf"), context="noise_conf")
            if wave_aug is not None and wave_aug.kind != "wave":
                raise S2SError("config key 'noise_conf': holds feats augmentations; put SpecAugment in "
                               "specaug_conf and waveform ones (time_shift, background_noise) in noise_conf")
        return ClassifyDataset(dirs, self.labels, self.shape, wave_augment=wave_aug,
                               cache_audio=bool(self.conf.get("cache_audio")),
                               skip_bad_audio=bool(self.conf.get("skip_bad_audio")),
                               require_all_classes=split == "train")

    def collate(self, items):
        return collate_classify(items)

    # -- model
    def model_args(self) -> dict:
        spec = self.conf.get("specaug_conf") or None
        if spec is not None:
            from s2s.data.augment import build_augment

            aug = build_augment(spec, "specaugment", context="specaug_conf")
            if aug.kind != "feats":
                raise S2SError("config key 'specaug_conf': holds wave augmentations; put SpecAugment in "
                               "specaug_conf and waveform ones (time_shift, background_noise) in noise_conf")
        return {"model": self.conf["model"], "model_conf": dict(self.conf.get("model_conf") or {}),
                "input_dim": self.shape.dim, "num_classes": len(self.labels), "num_frames": self.shape.num_frames,
                "frontend": self.shape.frontend.conf, "cmvn": self.conf.get("cmvn", "global"), "specaug": spec}

    def init_model(self, model):
        if self._normalizer is None:
            self._normalizer = cmvn_from_config(self.conf, self._first_dir, self.shape.dim)
        if self._normalizer.mode == "global":
            model.frontend.normalizer.set_stats(self._normalizer.mean, self._normalizer.std)
        return model

    def extra_meta(self) -> dict:
        return {"labels": list(self.labels), "clip_seconds": float(self.conf["clip_seconds"])}


def dataset_from_meta(model, meta: dict, data_dir: str, need_labels: bool = True) -> ClassifyDataset:
    """The clips of ``data_dir`` prepared exactly as the checkpoint's ``model`` was trained to see them
    (no augmentation). Without ``need_labels`` a data dir without ``text`` is accepted (targets -1)."""
    shape = ClipShape(model.frontend.feature_extractor, float(meta["clip_seconds"]))
    return ClassifyDataset([data_dir], list(meta["labels"]), shape, need_labels=need_labels)


# Tasks whose checkpoints evaluate_classifier takes: task -> (module, its dataset_from_meta, collate).
CLASSIFIER_TASKS = {"classify": "s2s.tasks.classify", "image": "s2s.tasks.image",
                    "text_classify": "s2s.tasks.text_classify"}


def _reader(task: str):
    """(dataset_from_meta, collate, the file of reference labels) of a classifier task's module."""
    import importlib

    mod = importlib.import_module(CLASSIFIER_TASKS[task])
    return mod.dataset_from_meta, mod.COLLATE, mod.LABEL_TABLE


@torch.no_grad()
def classify(model, dataset, batch_size: int, device, collate=collate_classify) -> tuple[list[str], torch.Tensor]:
    """Item ids and class posteriors (N, C) of every item of ``dataset``, in its order."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate)
    ids, posts = [], []
    for batch in loader:
        logits = model(batch["feats"].to(device), batch["lengths"].to(device)).float()
        posts.append(torch.softmax(logits, dim=-1).cpu())
        ids += batch["ids"]
    return ids, torch.cat(posts)


def evaluate_classifier(model_path, data, out, batch_size: int = 64, device: str = "cpu", results=None,
                        tag: str | None = None, set_name: str | None = None) -> str | None:
    """Classify the items of ``data`` (clips, images or texts, as the checkpoint's task reads them) with a
    trained model: OUT/hyp, OUT/labels.txt, OUT/posteriors.txt and, when the data dir has reference labels,
    the scores (printed; OUT/scores.json with top-1 and top-5; a RESULTS.md row with ``results``)."""
    import json

    from s2s.io import atomic_open
    from s2s.models.checkpoint import load_model
    from s2s.score import classification

    if results and not tag:
        raise S2SError("--results needs --tag NAME (the experiment's name in the table)")
    if batch_size < 1:
        raise S2SError(f"--batch-size must be >= 1, got {batch_size}")
    model, meta = load_model(model_path, device, task=tuple(CLASSIFIER_TASKS))
    dataset_from, collate, label_table = _reader(meta["task"])
    has_ref = (Path(data) / label_table).is_file()
    dataset = dataset_from(model, meta, data, need_labels=has_ref)
    ids, posts = classify(model, dataset, batch_size, device, collate)
    labels = meta["labels"]
    out = Path(out)
    hyp = {u: labels[int(k)] for u, k in zip(ids, posts.argmax(-1).tolist())}
    from s2s.data.datadir import write_table

    write_table(out / "hyp", hyp)
    with atomic_open(out / "labels.txt") as f:
        f.writelines(label + "\n" for label in labels)
    with atomic_open(out / "posteriors.txt") as f:
        for u, p in sorted(zip(ids, posts.tolist())):
            f.write(u + " " + " ".join(f"{x:.5f}" for x in p) + "\n")
    if not has_ref:
        return None
    ref = {u: labels[t] for u, t in zip(dataset.ids, dataset.targets)}
    report = classification.classification_report(ref, hyp, labels=labels, hyp_name=str(out / "hyp"))
    classification.write_report(report, out)
    targets = torch.tensor(dataset.targets, dtype=torch.long)
    k = min(5, posts.size(1))
    top5 = 100.0 * float((posts.topk(k, -1).indices == targets[:, None]).any(-1).float().mean())
    with atomic_open(out / "scores.json") as f:
        json.dump({"accuracy": report.accuracy, "top5": top5, "macro_f1": 100 * report.macro_f1,
                   "errors": report.errors, "n": report.n}, f, indent=1)
    if results:
        classification.append_results(results, tag, set_name or Path(data).name, report)
    line = report.summary_line() + (f", top-5 {top5:.2f}" if posts.size(1) > 5 else "")
    print(line)
    return line
