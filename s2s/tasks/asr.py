"""Speech recognition with CTC: features (dumped or on the fly) -> encoder -> CTC head."""

from __future__ import annotations

import logging
from pathlib import Path

import jiwer
import numpy as np
import torch
import torch.nn.functional as F

from s2s.data.datadir import DataDir
from s2s.errors import S2SError
from s2s.tasks import TASKS
from s2s.tasks.base import Task

log = logging.getLogger("s2s.asr")


# ---------------------------------------------------------------------------- tokens
def tokenizer_from_meta(d: dict):
    """The tokenizer a checkpoint was trained with (tokens and SentencePiece model are embedded)."""
    from s2s.data.tokens import Tokenizer

    return Tokenizer.from_dict(d)


def load_tokenizer(lang: str):
    from s2s.data.tokens import Tokenizer

    return Tokenizer.load(lang)


# ---------------------------------------------------------------------------- features
def frontend_conf_for(data_dir: str, conf_frontend: dict | None) -> dict | None:
    """The feature settings of a data dir: DATA/frontend.yaml written by utils/make_feats.sh,
    else the config's ``frontend_conf`` (used to compute features on the fly)."""
    from s2s.config import safe_load

    f = Path(data_dir) / "frontend.yaml"
    if f.is_file():
        with open(f, encoding="utf-8") as fh:
            return safe_load(fh)
    return conf_frontend


class CmvnStats:
    """Global mean/std (from DATA/cmvn.ark) or per-utterance normalisation, or none."""

    def __init__(self, mode: str, mean=None, std=None):
        if mode not in ("global", "utterance", "none"):
            raise S2SError(f"cmvn: unknown mode {mode!r}; use global, utterance or none")
        self.mode = mode
        self.mean = None if mean is None else torch.as_tensor(np.asarray(mean), dtype=torch.float32)
        self.std = None if std is None else torch.as_tensor(np.asarray(std), dtype=torch.float32)

    def __call__(self, feats: torch.Tensor) -> torch.Tensor:
        if self.mode == "global":
            return (feats - self.mean) / self.std
        if self.mode == "utterance":
            mean = feats.mean(0, keepdim=True)
            std = feats.std(0, keepdim=True, unbiased=False).clamp_min(1e-5)
            return (feats - mean) / std
        return feats

    def to_meta(self) -> dict:
        return {
            "mode": self.mode,
            "mean": None if self.mean is None else self.mean.tolist(),
            "std": None if self.std is None else self.std.tolist(),
        }

    @classmethod
    def from_meta(cls, m: dict) -> "CmvnStats":
        return cls(m["mode"], m.get("mean"), m.get("std"))

    @classmethod
    def from_config(cls, conf: dict, first_dir: str | None) -> "CmvnStats":
        """``cmvn`` / ``cmvn_file`` of a task config; global stats default to FIRST_DIR/cmvn.ark."""
        mode = conf.get("cmvn", "global")
        if mode != "global":
            return cls(mode)
        path = conf.get("cmvn_file") or (str(Path(first_dir) / "cmvn.ark") if first_dir else None)
        if path is None or not Path(path).is_file():
            raise S2SError(
                f"{path}: global CMVN stats not found; run utils/compute_cmvn_stats.sh on the training data "
                f"or set cmvn: utterance"
            )
        from s2s.data.cmvn import load_cmvn

        mean, std = load_cmvn(path)
        return cls("global", mean, std)


class FeatureSource:
    """Turns a data dir entry into a (T, D) float tensor: from feats.scp or from audio."""

    def __init__(self, frontend_conf: dict | None):
        self.frontend_conf = frontend_conf
        self._frontend = None

    @property
    def frontend(self):
        if self._frontend is None:
            from s2s.data.features import build_frontend

            if self.frontend_conf is None:
                raise S2SError(
                    "no features: the data dir has no feats.scp and the config has no frontend_conf; "
                    "run the features stage (utils/make_feats.sh) or set frontend_conf"
                )
            self._frontend = build_frontend(self.frontend_conf)
        return self._frontend

    def from_audio(self, wav: np.ndarray, sr: int) -> torch.Tensor:
        return self.frontend(wav, sr)

    def sources(self, dd: DataDir) -> tuple[dict, dict]:
        """Where each utterance of ``dd`` comes from, and the frame counts known without loading.

        Returns ``(src, n_frames)``: ``src[utt]`` is ``("scp", loader, key)`` when the dir has
        feats.scp, else ``("wav", wav.scp entry, (start, end) or None)`` (segments honoured);
        ``n_frames[utt]`` comes from utt2num_frames, or from utt2dur / segment times and the
        front end's frame shift. Pass ``src[utt]`` to ``load``.
        """
        import kaldiio

        if dd.has("feats.scp"):
            loader = kaldiio.load_scp(str(dd.file("feats.scp")))
            return {u: ("scp", loader, u) for u in loader.keys()}, dd.table("utt2num_frames", required=False)
        wav, segs = dd.wav_scp(), dd.segments()
        shift = float(self.frontend.frame_shift)
        src, n_frames = {}, {}
        if segs is None:
            durs = dd.table("utt2dur", required=False)
            for u, spec in wav.items():
                src[u] = ("wav", spec, None)
                if u in durs:
                    n_frames[u] = str(int(float(durs[u]) / shift))
            return src, n_frames
        for u, (rec, start, end) in segs.items():
            if rec not in wav:
                raise S2SError(f"{dd.file('segments')}: recording {rec!r} of {u!r} is not in wav.scp")
            src[u] = ("wav", wav[rec], (start, end))
            if end > 0:
                n_frames[u] = str(int((end - start) / shift))
        return src, n_frames

    def load(self, src) -> torch.Tensor:
        """The (T, D) features of one ``sources`` entry: read from the ark, or computed from audio."""
        if src[0] == "scp":
            return torch.from_numpy(np.array(src[1][src[2]], dtype=np.float32))
        from s2s.data.audio import load_audio

        conf = self.frontend.conf
        wav, sr = load_audio(src[1], target_sr=conf.get("sample_rate"), resample=conf.get("resample", False),
                             context=src[1])
        if src[2] is not None:
            start, end = src[2]
            wav = wav[int(start * sr): (int(end * sr) if end > 0 else None)]
        return self.from_audio(wav, sr)


# ---------------------------------------------------------------------------- dataset
class AsrDataset:
    """Utterances of one or more data dirs: features, token ids, and lengths for bucketing."""

    def __init__(self, data_dirs: list[str], tokenizer, features: FeatureSource, cmvn: CmvnStats,
                 augment=None, max_frames: int = 0):
        self.tokenizer = tokenizer
        self.features = features
        self.cmvn = cmvn
        self.augment = augment
        self.ids: list[str] = []
        self.targets: list[list[int]] = []
        self.lengths: list[int] = []
        self.texts: list[str] = []
        self._feats: list = []  # per item: ("scp", loader, key) or ("wav", spec, seg)
        skipped_long = 0
        for d in data_dirs:
            dd = DataDir(d)
            text = dd.text()
            src, n_frames = features.sources(dd)
            for lineno, (u, words) in enumerate(text.items(), 1):
                if u not in src:
                    raise S2SError(
                        f"{dd.file('text')}:{lineno}: utterance {u!r} has no features/audio; "
                        f"run utils/fix_data_dir.sh {d}"
                    )
                if not words.strip():
                    raise S2SError(f"{dd.file('text')}:{lineno}: empty transcript for {u!r}; fix or remove it")
                if u in n_frames:
                    n = int(n_frames[u])
                else:
                    n = features.load(src[u]).shape[0]
                if max_frames and n > max_frames:
                    skipped_long += 1
                    continue
                self.ids.append(u)
                self.texts.append(words)
                self.targets.append(tokenizer.encode(words))
                self.lengths.append(n)
                self._feats.append(src[u])
        if skipped_long:
            log.warning("skipped %d utterances longer than max_frames=%d", skipped_long, max_frames)
        if not self.ids:
            raise S2SError(f"{', '.join(data_dirs)}: no utterances to use")

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        feats = self.cmvn(self.features.load(self._feats[i]))
        if self.augment is not None:
            feats = self.augment(feats)
        return {"id": self.ids[i], "feats": feats, "tokens": torch.tensor(self.targets[i], dtype=torch.long),
                "text": self.texts[i]}


def collate_asr(items: list[dict]) -> dict:
    lengths = torch.tensor([it["feats"].shape[0] for it in items], dtype=torch.long)
    feats = torch.nn.utils.rnn.pad_sequence([it["feats"] for it in items], batch_first=True)
    tgt_lengths = torch.tensor([len(it["tokens"]) for it in items], dtype=torch.long)
    targets = torch.nn.utils.rnn.pad_sequence([it["tokens"] for it in items], batch_first=True)
    return {"ids": [it["id"] for it in items], "feats": feats, "lengths": lengths,
            "targets": targets, "target_lengths": tgt_lengths, "texts": [it["text"] for it in items]}


def greedy_ids(logits: torch.Tensor, lengths: torch.Tensor, blank: int = 0) -> list[list[int]]:
    """Best path: argmax per frame, merge repeats, drop blanks."""
    best = logits.argmax(-1).cpu()
    out = []
    for b in range(best.shape[0]):
        seq = best[b, : int(lengths[b])].tolist()
        ids, prev = [], None
        for t in seq:
            if t != prev and t != blank:
                ids.append(t)
            prev = t
        out.append(ids)
    return out


# ---------------------------------------------------------------------------- task
@TASKS.register("asr")
class AsrTask(Task):
    name = "asr"
    defaults = {
        "token_list": "data/lang",
        "frontend_conf": None,
        "cmvn": "global",
        "cmvn_file": None,
        "encoder": "ds2",
        "encoder_conf": {},
        "model_conf": {},
        "specaug_conf": None,
        "max_frames": 0,
    }

    def __init__(self, conf: dict):
        super().__init__(conf)
        self.tokenizer = load_tokenizer(conf["token_list"])
        train_dirs = _as_list(conf.get("train_data"))
        first = train_dirs[0] if train_dirs else None
        self.frontend_conf = frontend_conf_for(first, conf.get("frontend_conf")) if first else conf.get("frontend_conf")
        self.features = FeatureSource(self.frontend_conf)
        self.cmvn = CmvnStats.from_config(conf, first)
        self._input_dim = None

    # -- data
    def dataset(self, split: str):
        key = "train_data" if split == "train" else "valid_data"
        dirs = _as_list(self.conf.get(key))
        if not dirs:
            return None
        augment = None
        if split == "train" and self.conf.get("specaug_conf"):
            from s2s.data.augment import build_augment

            augment = build_augment({"specaug": self.conf["specaug_conf"]})
        ds = AsrDataset(dirs, self.tokenizer, self.features, self.cmvn, augment=augment,
                        max_frames=self.conf.get("max_frames", 0) if split == "train" else 0)
        if self._input_dim is None:
            self._input_dim = int(ds[0]["feats"].shape[1])
        return ds

    def collate(self, items):
        return collate_asr(items)

    # -- model
    def input_dim(self) -> int:
        if self._input_dim is None:
            if self.frontend_conf is not None:
                self._input_dim = int(self.features.frontend.dim)
            else:
                ds = self.dataset("train")
                self._input_dim = int(ds[0]["feats"].shape[1])
        return self._input_dim

    def model_args(self) -> dict:
        return {
            "encoder": self.conf["encoder"],
            "encoder_conf": dict(self.conf.get("encoder_conf") or {}),
            "input_dim": self.input_dim(),
            "vocab_size": len(self.tokenizer),
            "model_conf": dict(self.conf.get("model_conf") or {}),
        }

    def build_model(self):
        return build_from_args(self.model_args())

    def meta(self) -> dict:
        return {
            "task": "asr",
            "model_args": self.model_args(),
            "frontend_conf": self.frontend_conf,
            "cmvn": self.cmvn.to_meta(),
            "tokenizer": self.tokenizer.to_dict(),
        }

    @classmethod
    def model_from_meta(cls, meta: dict):
        return build_from_args(meta["model_args"])

    # -- loss
    def forward_loss(self, model, batch):
        logits, out_lens = model(batch["feats"], batch["lengths"])
        # CTC in fp32 whatever the autocast precision: log-probabilities of long
        # sequences underflow in fp16.
        logp = F.log_softmax(logits.float(), dim=-1).transpose(0, 1)
        loss = F.ctc_loss(logp, batch["targets"], out_lens, batch["target_lengths"],
                          blank=self.tokenizer.blank_id, reduction="sum", zero_infinity=True)
        n = float(len(batch["ids"]))
        return loss, n, {"ctc": loss.item() / n}

    @torch.no_grad()
    def evaluate(self, model, loader) -> dict:
        total, count = 0.0, 0.0
        refs, hyps = [], []
        for batch in loader:
            loss, n, _ = self.forward_loss(model, batch)
            total += loss.item()
            count += n
            logits, out_lens = model(batch["feats"], batch["lengths"])
            for ids, ref in zip(greedy_ids(logits, out_lens, self.tokenizer.blank_id), batch["texts"]):
                refs.append(ref)
                hyps.append(self.tokenizer.decode(ids))
        out = {"loss": total / max(count, 1.0)}
        if refs:
            out["wer"] = 100.0 * jiwer.wer(refs, [h if h.strip() else "<empty>" for h in hyps])
        return out


def build_from_args(args: dict):
    from s2s.models.asr import build_asr_model

    return build_asr_model(args["encoder"], args["encoder_conf"], args["input_dim"], args["vocab_size"],
                           **args.get("model_conf", {}))


def _as_list(v) -> list[str]:
    if v is None:
        return []
    if isinstance(v, (list, tuple)):
        return [str(x) for x in v]
    return [str(v)]
