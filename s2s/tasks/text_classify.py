"""Text classification (sentiment): a document -> one label, with the LSTM LM's body as the encoder.

OpenSeq2Seq's transfer learning (example_configs/transfer): the classifier is the LSTM LM with a
classification head in place of the output layer (``s2s.models.lm.LstmClassifier``), and
``init_from: LM_EXP/model.pt`` copies the trained LM's embedding and LSTM layers into it. For that
the documents must be tokenised as the LM's text was and read in the LM's vocabulary. With
``init_from`` an LM checkpoint, ``lm_conf`` (when empty) and the vocabulary (when ``token_list`` is
not set) are the LM's own, so the body has exactly the LM's shape; ``token_list`` names another
lang dir (a different vocabulary re-initialises the embedding, see ``s2s.train.init``).

Data dirs hold ``text`` (``<id> <document>``, tokenised words separated by spaces) and
``utt2label`` (``<id> <label>``); the classes and their order come from ``labels`` (one per line;
by default ``labels.txt`` beside the first training dir). A document is its tokens followed by
``</s>``, cut to its last ``max_length`` tokens (as OpenSeq2Seq's IMDB and SST data layers do).
``batch_frames`` counts tokens per batch. Validation reports ``loss`` and ``accuracy`` (%).
"""

from __future__ import annotations

from pathlib import Path

import torch

from s2s.data.datadir import read_table
from s2s.data.tokens import Vocabulary
from s2s.errors import S2SError
from s2s.tasks.base import TASKS, Task, as_list
from s2s.tasks.classify import LabelLoss, task_labels


class TextClassifyDataset:
    """Documents of one or more data dirs as id tensors (``</s>``-ended, at most ``max_length``)."""

    def __init__(self, data_dirs: list[str], labels: list[str], vocab: Vocabulary, max_length: int,
                 need_labels: bool = True, require_all_classes: bool = False):
        index = {label: i for i, label in enumerate(labels)}
        self.ids: list[str] = []
        self.docs: list[torch.Tensor] = []
        self.targets: list[int] = []
        for d in data_dirs:
            text_path, label_path = Path(d) / "text", Path(d) / "utt2label"
            docs = read_table(text_path)
            if not label_path.is_file() and not need_labels:
                utt_labels = {}
            else:
                utt_labels = read_table(label_path)
                for lineno, (u, label) in enumerate(utt_labels.items(), 1):
                    if u not in docs:
                        raise S2SError(f"{label_path}:{lineno}: {u!r} has a label but no text in {text_path}; "
                                       f"add it or remove the line")
                    if label not in index:
                        raise S2SError(f"{label_path}:{lineno}: label {label!r} of {u!r} is not one of "
                                       f"{', '.join(labels)}; fix the data or the labels file")
            for lineno, (u, doc) in enumerate(docs.items(), 1):
                if need_labels and u not in utt_labels:
                    raise S2SError(f"{text_path}:{lineno}: {u!r} has no label in {label_path}; add '{u} LABEL' "
                                   f"there or remove the line")
                seq = (vocab.encode(doc) + [vocab.eos_id])[-max_length:]
                self.ids.append(u)
                self.docs.append(torch.tensor(seq, dtype=torch.long))
                self.targets.append(index[utt_labels[u]] if u in utt_labels else -1)
        if not self.ids:
            raise S2SError(f"{', '.join(data_dirs)}: no documents")
        seen = set(self.targets)
        empty = [label for i, label in enumerate(labels) if i not in seen]
        if empty and require_all_classes:
            raise S2SError(f"{', '.join(data_dirs)}: no documents of class(es) {', '.join(empty)}; check the data "
                           f"preparation or the labels file")
        self.lengths = [len(x) for x in self.docs]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"id": self.ids[i], "tokens": self.docs[i], "target": self.targets[i]}


def collate_texts(items: list[dict]) -> dict:
    """Right-padded ids (B, L) as ``feats`` (padding is 0; the model reads each row up to its length)."""
    lengths = torch.tensor([len(it["tokens"]) for it in items], dtype=torch.long)
    feats = torch.nn.utils.rnn.pad_sequence([it["tokens"] for it in items], batch_first=True, padding_value=0)
    return {"ids": [it["id"] for it in items], "feats": feats, "lengths": lengths,
            "targets": torch.tensor([it["target"] for it in items], dtype=torch.long)}


LABEL_TABLE = "utt2label"  # the data dir file that holds the reference labels
COLLATE = collate_texts  # what evaluate_classifier batches this task's evaluation items with


@TASKS.register("text_classify")
class TextClassifyTask(LabelLoss, Task):
    name = "text_classify"
    model_name = "text_classifier"
    vocab_layers = ("embed.",)
    cost_unit = "tokens"
    throughput_unit = "documents"
    defaults = {
        "token_list": None,
        "labels": None,
        "max_length": 256,
        "lm_conf": {},
        "use_cell_state": False,
        "head_dropout": 0.0,
        "label_smoothing": 0.0,
        "batch_frames": 4096,
        "max_batch_size": 32,
    }
    help = {
        "token_list": "lang dir of the vocabulary; default: the vocabulary of the init_from LM",
        "labels": "labels file (one class per line, the class order); default: labels.txt beside the training dir",
        "max_length": "a document is cut to its last this many tokens (IMDB 256, SST 96 in OpenSeq2Seq)",
        "lm_conf": "the LSTM body, as the LM's lm_conf (cell, embed_dim, hidden, num_layers, dropout, ...); "
                   "empty: the init_from LM's",
        "use_cell_state": "the head also sees the last cell state (OpenSeq2Seq's use_cell_state)",
        "head_dropout": "dropout before the classification layer",
        "label_smoothing": "label smoothing of the cross-entropy loss",
        "batch_frames": "tokens (padded) per batch per rank",
        "max_batch_size": "at most this many documents per batch per rank",
    }

    def __init__(self, conf: dict):
        super().__init__(conf)
        self.lm_conf = dict(conf.get("lm_conf") or {})
        lm_meta = self._lm_meta(conf.get("init_from")) if conf.get("init_from") else None
        if not self.lm_conf and lm_meta is not None:
            self.lm_conf = dict(lm_meta["model"]["args"].get("lm_conf") or {})
        if conf.get("token_list"):
            self.vocab = Vocabulary.load(conf["token_list"])
        elif lm_meta is not None:
            self.vocab = Vocabulary.from_dict(lm_meta["vocab"], source=f"{conf['init_from']} (init_from)")
        else:
            raise S2SError("text_classify: set token_list (the lang dir of the LM's vocabulary) or init_from "
                           "(an LM checkpoint, whose vocabulary is then used)")
        self.labels = task_labels(conf, (as_list(conf.get("train_data")) or [None])[0], table=LABEL_TABLE)
        if int(conf["max_length"]) < 1:
            raise S2SError(f"config key 'max_length' must be >= 1, got {conf['max_length']}")

    @staticmethod
    def _lm_meta(path) -> dict:
        from s2s.models.checkpoint import checkpoint_meta, read_checkpoint

        try:
            meta = checkpoint_meta(read_checkpoint(path), path)
        except S2SError as e:
            raise S2SError(f"init_from: {e}") from None
        if meta["task"] != "lm" or meta["model"]["args"].get("lm") != "lstm":
            what = meta["model"]["args"].get("lm") if meta["task"] == "lm" else meta["task"]
            raise S2SError(f"init_from: {path}: a {what!r} model; text_classify starts from an LSTM LM "
                           f"(task lm, lm: lstm), or from scratch without init_from")
        return meta

    def dataset(self, split: str):
        key = "train_data" if split == "train" else "valid_data"
        dirs = as_list(self.conf.get(key))
        if not dirs:
            return None
        return TextClassifyDataset(dirs, self.labels, self.vocab, int(self.conf["max_length"]),
                                   require_all_classes=split == "train")

    def collate(self, items):
        return collate_texts(items)

    def throughput(self, batch: dict) -> float:
        return float(len(batch["ids"]))

    def model_args(self) -> dict:
        return {"lm_conf": dict(self.lm_conf), "vocab_size": len(self.vocab),
                "num_classes": len(self.labels), "use_cell_state": bool(self.conf["use_cell_state"]),
                "head_dropout": float(self.conf["head_dropout"])}

    def extra_meta(self) -> dict:
        return {"labels": list(self.labels), "vocab": self.vocab.to_dict(), "max_length": int(self.conf["max_length"])}


def dataset_from_meta(model, meta: dict, data_dir: str, need_labels: bool = True) -> TextClassifyDataset:
    """The documents of ``data_dir`` read as the checkpoint's model was trained to see them."""
    vocab = Vocabulary.from_dict(meta["vocab"])
    return TextClassifyDataset([data_dir], list(meta["labels"]), vocab, int(meta["max_length"]),
                               need_labels=need_labels)
