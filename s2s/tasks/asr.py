"""Speech recognition: data dirs -> features (dumped or from audio) -> CTC, or an attention decoder.

Without ``decoder`` the model is ``AsrModel`` trained with CTC. With ``decoder`` (transformer,
rnn or convs2s, ``s2s.models.seq2seq``) it is an attention encoder-decoder over the speech
encoder (LAS), trained with label-smoothed cross-entropy under teacher forcing; with
``ctc_weight`` λ > 0 a CTC head on the encoder is trained beside it, the loss being
``λ·CTC + (1 - λ)·attention`` (joint CTC-attention, Kim et al. 2017; ESPnet's hybrid).

The model owns its front end, normalisation and SpecAugment (``s2s.models.asr``);
the dataset hands it unnormalised features as the front end computes them (read
from feats.scp, or computed from wav.scp with the same front end module), and the
task sets the model's global CMVN statistics from ``cmvn.ark``. Waveform augmentation
(``noise_conf``: speed perturbation, background noise, ...) makes the training set read
audio and compute features on the fly, with draws seeded by (seed, epoch, utterance), so
they do not depend on DataLoader workers and a resumed run sees the same. Validation runs
the model once per batch for the loss and the greedy transcripts (WER by
``s2s.score``).
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from s2s.data.cmvn import cmvn_from_config
from s2s.data.datadir import DataDir
from s2s.data.features import build_frontend
from s2s.data.sources import FeatureSource, dumped_frontend_conf
from s2s.data.tokens import Vocabulary
from s2s.decode.ctc import greedy_search
from s2s.errors import S2SError
from s2s.score.wer import score_texts
from s2s.tasks.base import TASKS, Task, as_list

log = logging.getLogger("s2s.asr")

FEATURE_SHIFT_FALLBACK = 0.01  # seconds per frame of features without a known front end


class AsrDataset:
    """Utterances of one or more data dirs: unnormalised features, token ids, lengths for bucketing.

    ``wave_augment`` (training): audio is read even where feats.scp exists, augmented, and
    turned into features by the front end; item ``i`` of epoch ``e`` draws from a generator
    seeded with (``seed``, e, i) (``set_epoch``, called by the trainer before each epoch).
    """

    def __init__(self, data_dirs: list[str], vocab: Vocabulary, features: FeatureSource, max_frames: int = 0,
                 wave_augment=None, seed: int = 0):
        self.vocab = vocab
        self.features = features
        self.wave_augment = wave_augment
        self.seed = int(seed)
        self.epoch = 0
        self.ids: list[str] = []
        self.targets: list[list[int]] = []
        self.lengths: list[int] = []
        self.texts: list[str] = []
        self._src: list = []  # per item: ("scp", loader, key) or ("wav", spec, seg)
        skipped_long = 0
        for d in data_dirs:
            dd = DataDir(d)
            text = dd.text()
            src, n_frames = features.sources(dd, prefer_feats=wave_augment is None)
            for lineno, (u, words) in enumerate(text.items(), 1):
                if u not in src:
                    raise S2SError(f"{dd.file('text')}:{lineno}: utterance {u!r} has no features/audio; "
                                   f"run utils/fix_data_dir.sh {d}")
                if not words.strip():
                    raise S2SError(f"{dd.file('text')}:{lineno}: empty transcript for {u!r}; fix or remove it")
                n = int(n_frames[u]) if u in n_frames else features.load(src[u]).shape[0]
                if max_frames and n > max_frames:
                    skipped_long += 1
                    continue
                self.ids.append(u)
                self.texts.append(words)
                self.targets.append(vocab.encode(words))
                self.lengths.append(n)
                self._src.append(src[u])
        if skipped_long:
            log.warning("skipped %d utterances longer than max_frames=%d", skipped_long, max_frames)
        if not self.ids:
            raise S2SError(f"{', '.join(data_dirs)}: no utterances to use")

    def __len__(self) -> int:
        return len(self.ids)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __getitem__(self, i: int) -> dict:
        if self.wave_augment is None:
            feats = self.features.load(self._src[i])
        else:
            from s2s.data.augment import draws_from

            gen = torch.Generator().manual_seed(((self.seed * 1_000_003 + self.epoch) * 10_000_019 + i) % 2**63)
            with draws_from(gen):
                wav = self.wave_augment(self.features.load_wave(self._src[i]), self.features.sample_rate)
            frontend = self.features.frontend
            feats = frontend.extract(wav, frontend.sample_rate, generator=gen)
        return {"id": self.ids[i], "feats": feats,
                "tokens": torch.tensor(self.targets[i], dtype=torch.long), "text": self.texts[i]}


def collate_asr(items: list[dict]) -> dict:
    lengths = torch.tensor([it["feats"].shape[0] for it in items], dtype=torch.long)
    feats = torch.nn.utils.rnn.pad_sequence([it["feats"] for it in items], batch_first=True)
    tgt_lengths = torch.tensor([len(it["tokens"]) for it in items], dtype=torch.long)
    targets = torch.nn.utils.rnn.pad_sequence([it["tokens"] for it in items], batch_first=True)
    return {"ids": [it["id"] for it in items], "feats": feats, "lengths": lengths,
            "targets": targets, "target_lengths": tgt_lengths, "texts": [it["text"] for it in items]}


@TASKS.register("asr")
class AsrTask(Task):
    name = "asr"
    model_name = "asr"
    vocab_layers = ("head.",)
    cost_unit = "feature frames"
    throughput_unit = "audio-s"
    defaults = {
        "token_list": "data/lang",
        "frontend_conf": None,   # used when the training data dir has no frontend.yaml
        "cmvn": "global",        # global (DATA/cmvn.ark of the first train dir) | utterance | none
        "cmvn_file": None,
        "encoder": "ds2",
        "encoder_conf": {},
        "model_conf": {},
        "specaug_conf": None,    # SpecAugment inside the model, training only
        "noise_conf": None,      # waveform augmentation of the training set: speed, background_noise, ...
        "max_frames": 0,
        "decoder": None,         # attention decoder (transformer | rnn | convs2s); None: CTC only
        "decoder_conf": {},
        "ctc_weight": 0.3,       # with a decoder: λ of λ·CTC + (1-λ)·attention (0: LAS without a CTC head)
        "label_smoothing": 0.1,  # with a decoder: of the attention cross-entropy
    }
    help = {
        "token_list": "the lang dir (or its tokens.txt) of s2s.bin.prepare_tokens",
        "frontend_conf": "front end (type fbank|mfcc|logmel|spectrogram + options) when the training data "
                         "dir has no frontend.yaml from utils/make_feats.sh (features then computed on the fly)",
        "cmvn": "normalisation inside the model: global (cmvn.ark of the first train dir), utterance or none",
        "cmvn_file": "global CMVN stats to use instead of TRAIN_DIR/cmvn.ark",
        "encoder": "acoustic encoder family",
        "encoder_conf": "encoder options, e.g. {preset: quartznet15x5} or {blocks: [...]}: the encoder's "
                        "arguments (an unknown key is refused with the allowed ones)",
        "model_conf": "options of the CTC model around the encoder (e.g. dropout before the output layer)",
        "specaug_conf": "SpecAugment inside the model, training only, e.g. {freq_masks: 2, freq_width: 15, "
                        "time_masks: 2, time_width: 0.05}; null: off",
        "noise_conf": "waveform augmentation of the training set (features then computed on the fly from the "
                      "audio), a list applied in order, e.g. [{type: speed, factors: [0.9, 1.0, 1.1]}, "
                      "{type: background_noise, noise_dir: /data/musan/noise, snr_min: 0, snr_max: 15, prob: 0.5}]; "
                      "types: speed, background_noise, white_noise, time_stretch, time_shift",
        "max_frames": "drop training utterances longer than this many feature frames (0: keep all)",
        "decoder": "attention decoder over the encoder (transformer, rnn, convs2s; LAS / joint CTC-attention); "
                   "null: a CTC model",
        "decoder_conf": "the attention decoder's options, e.g. {hidden: 320, num_layers: 1, attention: bahdanau}",
        "ctc_weight": "with a decoder: weight λ of the CTC loss in λ·CTC + (1-λ)·attention; 0: no CTC head (LAS)",
        "label_smoothing": "with a decoder: label smoothing of the attention cross-entropy",
    }

    def __init__(self, conf: dict):
        super().__init__(conf)
        self.vocab = Vocabulary.load(conf["token_list"])
        self.attention = bool(conf.get("decoder"))
        if self.attention:
            self.model_name = "seq2seq"
            self.vocab_layers = ("tgt_embed.", "out.", "ctc.")
            lam = float(conf.get("ctc_weight", 0.0))
            if not 0.0 <= lam < 1.0:
                raise S2SError(f"config key 'ctc_weight': {lam} must be in [0, 1) with a decoder (0: attention "
                               f"only; a CTC-only model has decoder: null)")
        train_dirs = as_list(conf.get("train_data"))
        first = train_dirs[0] if train_dirs else None
        self.frontend_conf = (dumped_frontend_conf(first) if first else None) or conf.get("frontend_conf")
        self.frontend = build_frontend(self.frontend_conf) if self.frontend_conf is not None else None
        if self.frontend is not None:
            self.frontend_conf = self.frontend.conf  # every option resolved
        self.features = FeatureSource(self.frontend)
        self._input_dim = None if self.frontend is None else int(self.frontend.dim)
        self._first_dir = first
        self._normalizer = None

    # -- data
    def dataset(self, split: str):
        dirs = as_list(self.conf.get("train_data" if split == "train" else "valid_data"))
        if not dirs:
            return None
        augment = self._wave_augment() if split == "train" else None
        ds = AsrDataset(dirs, self.vocab, self.features,
                        max_frames=self.conf.get("max_frames", 0) if split == "train" else 0,
                        wave_augment=augment, seed=int(self.conf.get("seed", 1)))
        dim = int(ds[0]["feats"].shape[1])
        if self._input_dim is None:
            self._input_dim = dim
        elif dim != self._input_dim:
            raise S2SError(f"{dirs[0]}: features have dim {dim}, the front end gives {self._input_dim}; "
                           f"recompute them with one front end config")
        return ds

    def _wave_augment(self):
        spec = self.conf.get("noise_conf")
        if not spec:
            return None
        from s2s.data.augment import build_augment

        augment = build_augment(spec, context="noise_conf")
        if augment.kind != "wave":
            raise S2SError("config key 'noise_conf': holds SpecAugment; put it in specaug_conf (it runs inside "
                           "the model)")
        if self.frontend is None:
            raise S2SError("config key 'noise_conf': waveform augmentation needs a front end to compute features "
                           "from the augmented audio; the training data has dumped features without frontend.yaml "
                           "(re-dump them with utils/make_feats.sh) or set frontend_conf")
        return augment

    def collate(self, items):
        batch = collate_asr(items)
        if self.attention:
            v = self.vocab
            seqs = [it["tokens"] for it in items]
            pad = torch.nn.utils.rnn.pad_sequence
            batch["prev"] = pad([F.pad(t, (1, 0), value=v.bos_id) for t in seqs], batch_first=True,
                                padding_value=v.pad_id)
            batch["gold"] = pad([F.pad(t, (0, 1), value=v.eos_id) for t in seqs], batch_first=True,
                                padding_value=v.pad_id)
        return batch

    def throughput(self, batch: dict) -> float:
        shift = self.frontend.frame_shift if self.frontend is not None else FEATURE_SHIFT_FALLBACK
        return float(batch["lengths"].sum()) * shift

    # -- model
    def input_dim(self) -> int:
        if self._input_dim is None:
            self.dataset("train")
        if self._input_dim is None:
            raise S2SError("config key 'train_data' is not set; the model's input size comes from the training data")
        return self._input_dim

    def model_args(self) -> dict:
        if self.attention:
            return {"encoder": self.conf["encoder"], "encoder_conf": dict(self.conf.get("encoder_conf") or {}),
                    "decoder": self.conf["decoder"], "decoder_conf": dict(self.conf.get("decoder_conf") or {}),
                    "vocab_size": len(self.vocab), "input_dim": self.input_dim(), "frontend": self.frontend_conf,
                    "cmvn": self.conf.get("cmvn", "global"), "specaug": self.conf.get("specaug_conf") or None,
                    "model_conf": dict(self.conf.get("model_conf") or {}),
                    "ctc": float(self.conf.get("ctc_weight", 0.0)) > 0, "pad_id": self.vocab.pad_id}
        return {
            "encoder": self.conf["encoder"],
            "encoder_conf": dict(self.conf.get("encoder_conf") or {}),
            "input_dim": self.input_dim(),
            "vocab_size": len(self.vocab),
            "frontend": self.frontend_conf,
            "cmvn": self.conf.get("cmvn", "global"),
            "specaug": self.conf.get("specaug_conf") or None,
            "model_conf": dict(self.conf.get("model_conf") or {}),
        }

    def init_model(self, model):
        if self._normalizer is None:
            self._normalizer = cmvn_from_config(self.conf, self._first_dir, self.input_dim())
        if self._normalizer.mode == "global":
            model.frontend.normalizer.set_stats(self._normalizer.mean, self._normalizer.std)
        return model

    def extra_meta(self) -> dict:
        return {"vocab": self.vocab.to_dict()}

    # -- loss
    def _ctc(self, model, batch):
        logp, out_lens = model(batch["feats"], batch["lengths"])
        loss = F.ctc_loss(logp.transpose(0, 1), batch["targets"], out_lens, batch["target_lengths"],
                          blank=self.vocab.blank_id, reduction="sum", zero_infinity=True)
        return loss, logp, out_lens

    def _joint(self, model, batch):
        """(λ·CTC + (1-λ)·attention summed over the batch, stats, the encoder's CTC log-probs and lengths)."""
        from s2s.tasks.mt import smoothed_nll

        logp, ctc = model(batch["feats"], batch["lengths"], batch["prev"])
        att, ntok, correct = smoothed_nll(logp, batch["gold"], self.vocab.pad_id,
                                          float(self.conf.get("label_smoothing", 0.0)))
        lam = float(self.conf.get("ctc_weight", 0.0))
        stats = {"att": att.item() / len(batch["ids"]), "acc": correct / max(ntok, 1)}
        loss = (1 - lam) * att
        if ctc is not None and lam > 0:
            ctc_logp, out_lens = ctc
            ctc_loss = F.ctc_loss(ctc_logp.transpose(0, 1), batch["targets"], out_lens, batch["target_lengths"],
                                  blank=self.vocab.blank_id, reduction="sum", zero_infinity=True)
            loss = loss + lam * ctc_loss
            stats["ctc"] = ctc_loss.item() / len(batch["ids"])
        return loss, stats

    def forward_loss(self, model, batch):
        n = float(len(batch["ids"]))
        if self.attention:
            loss, stats = self._joint(model, batch)
            return loss, n, stats
        loss, _, _ = self._ctc(model, batch)
        return loss, n, {"ctc": loss.item() / n}

    @torch.no_grad()
    def _evaluate_attention(self, model, loader) -> dict:
        from s2s.decode.seq2seq import greedy_search

        total, count = 0.0, 0.0
        refs, hyps = {}, {}
        v = self.vocab
        for batch in loader:
            loss, _ = self._joint(model, batch)
            total += loss.item()
            count += len(batch["ids"])
            out = greedy_search(model, batch["feats"], batch["lengths"], v.bos_id, v.eos_id, max_len_a=1.0,
                                max_len_b=0)
            for utt, h, ref in zip(batch["ids"], out, batch["texts"]):
                refs[utt] = v.normalize(ref)
                hyps[utt] = v.decode(h.tokens)
        out = {"loss": total / max(count, 1.0)}
        if refs:
            out["wer"] = score_texts(refs, hyps, hyp_name="validation transcripts").wer
        return out

    @torch.no_grad()
    def evaluate(self, model, loader) -> dict:
        if self.attention:
            return self._evaluate_attention(model, loader)
        total, count = 0.0, 0.0
        refs, hyps = {}, {}
        for batch in loader:
            loss, logp, out_lens = self._ctc(model, batch)
            total += loss.item()
            count += len(batch["ids"])
            for utt, ids, ref in zip(batch["ids"], greedy_search(logp, out_lens, self.vocab.blank_id), batch["texts"]):
                refs[utt] = self.vocab.normalize(ref)
                hyps[utt] = self.vocab.decode(ids)
        out = {"loss": total / max(count, 1.0)}
        if refs:
            out["wer"] = score_texts(refs, hyps, hyp_name="validation transcripts").wer
        return out
