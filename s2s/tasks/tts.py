"""Text to speech with Tacotron 2, Centaur or FastSpeech: transcripts -> log-mel frames.

Tacotron 2 and Centaur: masked L2 (or L1, ``mel_loss``) + stop-token loss, optionally guided
attention. FastSpeech: the mel loss + the duration predictor's L2 on log(1 + frames); its
data dirs need DATA/durations (``s2s.bin.tts_durations`` writes them from a trained teacher).
With ``model_conf.pitch`` (FastPitch) also the pitch predictor's L2 on each symbol's normalised
log-F0, from DATA/pitch (written beside the durations). With ``model_conf.aligner`` FastSpeech
needs no durations: its alignment encoder learns them (plus its forward-sum and binarization
losses), and FastPitch's per-symbol F0 is averaged over them from the frame-level DATA/f0
(``s2s.bin.tts_pitch`` writes it).

Data: Kaldi data dirs (text, utt2spk, wav.scp and/or feats.scp). Targets are ``logmel``
features, dumped by utils/make_feats.sh (DATA/frontend.yaml says how) or computed on the
fly from ``frontend_conf``; the Griffin-Lim vocoder inverts the same front end. Speakers
come from the training utt2spk; with more than one the model gets a speaker embedding.

Validation reports ``loss``, ``mel_loss`` (the mel loss per frame and bin, the mean of
before and after the postnet), and ``stop_loss`` and ``diagonal``
(s2s.models.tacotron2.diagonal_score averaged over the validation set) or, for FastSpeech,
``duration_loss`` (and ``pitch_loss``; ``align_loss`` and ``bin_loss`` with the aligner); with
``plot_dir`` set, each validation of an attention model writes the attention of its longest
sentence as ``PLOT_DIR/alignment_<n>.png``.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from s2s.data.datadir import DataDir
from s2s.data.features import build_frontend
from s2s.data.sources import FeatureSource, dumped_frontend_conf
from s2s.data.text import text_to_ids, tts_vocabulary
from s2s.errors import S2SError
from s2s.models.tts import diagonal_score, lengths_to_mask
from s2s.tasks.base import TASKS, Task, as_list, unwrap

log = logging.getLogger("s2s.tts")


def trim_bounds(mel: torch.Tensor, below_db: float, margin: int = 2) -> tuple[int, int]:
    """The frames ``[start, end)`` that ``trim_silence`` keeps."""
    if below_db <= 0 or mel.shape[0] == 0:
        return 0, mel.shape[0]
    db = torch.logsumexp(mel.float(), dim=-1) * (10.0 / math.log(10.0))
    loud = (db >= db.max() - below_db).nonzero().flatten()
    return max(int(loud[0]) - margin, 0), min(int(loud[-1]) + 1 + margin, mel.shape[0])


def trim_silence(mel: torch.Tensor, below_db: float, margin: int = 2) -> torch.Tensor:
    """Cut the frames before the first and after the last frame within ``below_db`` dB of the
    loudest one (energy: the log of the frame's summed mel power), keeping ``margin`` frames
    of silence on each side. ``below_db`` <= 0 keeps everything."""
    start, end = trim_bounds(mel, below_db, margin)
    return mel[start:end]


class TtsDataset:
    """Utterances: symbol ids, speaker index, log-mel targets; ``lengths`` are mel frames
    (before silence trimming, an upper bound)."""

    def __init__(self, data_dirs: list[str], features: FeatureSource, speakers: dict[str, int], vocab,
                 max_frames: int = 0, trim_db: float = 0.0, durations: bool = False, pitch: bool = False,
                 frame_pitch: bool = False):
        self.features = features
        self.trim_db = trim_db
        self.ids, self.symbols, self.speakers, self.lengths, self._src = [], [], [], [], []
        self.durations: list[tuple[list[int], str]] | None = [] if durations else None
        self.pitch: list[list[float]] | None = [] if pitch else None
        self.frame_pitch: list[tuple[np.ndarray, str]] | None = [] if frame_pitch else None
        skipped_long = skipped_empty = 0
        for d in data_dirs:
            dd = DataDir(d)
            text, utt2spk = dd.text(), dd.utt2spk()
            src, n_frames = features.sources(dd)
            dur = read_durations(dd) if durations else {}
            f0 = read_pitch(dd) if pitch else {}
            frame_f0 = read_frame_pitch(dd) if frame_pitch else {}
            for lineno, (u, words) in enumerate(text.items(), 1):
                if u not in src:
                    raise S2SError(f"{dd.file('text')}:{lineno}: utterance {u!r} has no features/audio; "
                                   f"run utils/fix_data_dir.sh {d}")
                ids = text_to_ids(words, vocab)
                if len(ids) <= 1:  # nothing speakable left after normalisation
                    skipped_empty += 1
                    continue
                n = int(n_frames[u]) if u in n_frames else features.load(src[u]).shape[0]
                if max_frames and n > max_frames:
                    skipped_long += 1
                    continue
                if durations:
                    if u not in dur:
                        raise S2SError(f"{dd.file('durations')}: no durations for utterance {u!r}; extract them "
                                       f"again (python -m s2s.bin.tts_durations TEACHER --data {d})")
                    counts, where = dur[u]
                    if len(counts) != len(ids):
                        raise S2SError(f"{where}: {len(counts)} durations for the {len(ids)} symbols of {u!r}; "
                                       f"the text changed since they were extracted; extract them again "
                                       f"(python -m s2s.bin.tts_durations TEACHER --data {d})")
                    self.durations.append((counts, where))
                if pitch:
                    if u not in f0 or len(f0[u][0]) != len(ids):
                        where = f0[u][1] if u in f0 else str(dd.file("pitch"))
                        found = f"{len(f0[u][0])} values" if u in f0 else "no values"
                        raise S2SError(f"{where}: {found} for the {len(ids)} symbols of {u!r}; extract the pitch "
                                       f"again with the durations (python -m s2s.bin.tts_durations TEACHER --data {d})")
                    self.pitch.append(f0[u][0])
                if frame_pitch:  # checked against the features when they are loaded, and here when
                    # the dumped features say how many frames there are
                    if u not in frame_f0:
                        raise S2SError(f"{dd.file('f0')}: no F0 for utterance {u!r}; track it again "
                                       f"(python -m s2s.bin.tts_pitch --data {d})")
                    if u in n_frames and dd.has("feats.scp") and len(frame_f0[u][0]) != n:
                        raise S2SError(f"{frame_f0[u][1]}: {len(frame_f0[u][0])} F0 values for the {n} frames of "
                                       f"{u!r}; track it again on these features (python -m s2s.bin.tts_pitch "
                                       f"--data {d})")
                    self.frame_pitch.append(frame_f0[u])
                self.ids.append(u)
                self.symbols.append(ids)
                self.speakers.append(speakers.get(utt2spk.get(u, ""), 0))
                self.lengths.append(n)
                self._src.append(src[u])
        if skipped_long:
            log.warning("skipped %d utterances longer than max_frames=%d", skipped_long, max_frames)
        if skipped_empty:
            log.warning("skipped %d utterances with no speakable characters after normalisation", skipped_empty)
        if not self.ids:
            raise S2SError(f"{', '.join(data_dirs)}: no utterances to use")

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        mel = self.features.load(self._src[i])
        start, end = trim_bounds(mel, self.trim_db)
        item = {"id": self.ids[i], "symbols": torch.tensor(self.symbols[i], dtype=torch.long),
                "speaker": self.speakers[i], "mel": mel[start:end]}
        if self.durations is not None:
            counts, where = self.durations[i]
            if sum(counts) != item["mel"].shape[0]:
                raise S2SError(f"{where}: durations sum to {sum(counts)} frames, but {self.ids[i]!r} has "
                               f"{item['mel'].shape[0]} (trim_silence_db: {self.trim_db:g}); extract them with "
                               f"the same features and --trim-silence-db as this training")
            item["durations"] = torch.tensor(counts, dtype=torch.long)
        if self.pitch is not None:
            item["pitch"] = torch.tensor(self.pitch[i], dtype=torch.float32)
        if self.frame_pitch is not None:
            f0, where = self.frame_pitch[i]
            if len(f0) != mel.shape[0]:
                raise S2SError(f"{where}: {len(f0)} F0 values for the {mel.shape[0]} frames of {self.ids[i]!r}; "
                               f"track it again on these features (python -m s2s.bin.tts_pitch)")
            item["frame_pitch"] = torch.from_numpy(f0[start:end])
        return item


def _read_per_symbol(dd: DataDir, name: str, cast, what: str, missing: str | None = None,
                     again: str = "extract the file again (python -m s2s.bin.tts_durations)") -> dict[str, tuple[list, str]]:
    """DATA/NAME: ``utt v_1 ... v_N`` -> {utt: (values, "FILE:LINE")}; S2SError naming the file and
    line of a malformed entry (with ``again``, how to write it anew), or ``missing``, the command
    that writes the file, when it is not there."""
    path = dd.file(name)
    if not path.is_file():
        raise S2SError(f"{path}: not found; " + (missing or (
            f"FastSpeech trains on symbol durations (and pitch) from a trained Tacotron 2 or Centaur: "
            f"python -m s2s.bin.tts_durations TEACHER/model.pt --data {dd.path}")))
    out = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            try:
                values = [cast(x) for x in parts[1:]]
            except ValueError:
                values = [-1]
            if not values or min(values) < 0 or not all(math.isfinite(v) for v in values):
                raise S2SError(f"{path}:{lineno}: expected 'utterance-id {what} {what} ...' with numbers "
                               f">= 0; {again}")
            out[parts[0]] = (values, f"{path}:{lineno}")
    return out


def read_durations(dd: DataDir) -> dict[str, tuple[list[int], str]]:
    """DATA/durations: ``utt d_1 ... d_N`` (whole frames per symbol)."""
    return _read_per_symbol(dd, "durations", int, "frames")


def read_pitch(dd: DataDir) -> dict[str, tuple[list[float], str]]:
    """DATA/pitch: ``utt f_1 ... f_N`` (each symbol's mean F0 in Hz, 0 when unvoiced)."""
    return _read_per_symbol(dd, "pitch", float, "hz")


def read_frame_pitch(dd: DataDir) -> dict[str, tuple[np.ndarray, str]]:
    """DATA/f0: ``utt f_1 ... f_T`` (the F0 in Hz of each log-mel frame before trimming, 0 when
    unvoiced; ``s2s.bin.tts_pitch``) -> {utt: (float32 array, "FILE:LINE")}."""
    table = _read_per_symbol(dd, "f0", float, "hz",
                             missing=f"FastPitch with the aligner trains on each frame's F0: python -m "
                                     f"s2s.bin.tts_pitch --data {dd.path}",
                             again=f"one per frame; track the F0 again (python -m s2s.bin.tts_pitch --data {dd.path})")
    return {u: (np.asarray(v, dtype=np.float32), where) for u, (v, where) in table.items()}


def make_collate(reduction: int, pad_id: int):
    def collate(items: list[dict]) -> dict:
        sym_lens = torch.tensor([len(it["symbols"]) for it in items], dtype=torch.long)
        mel_lens = torch.tensor([it["mel"].shape[0] for it in items], dtype=torch.long)
        t = int(mel_lens.max())
        t = -(-t // reduction) * reduction  # whole decoder steps
        mels = torch.zeros(len(items), t, items[0]["mel"].shape[1])
        for b, it in enumerate(items):
            mels[b, : it["mel"].shape[0]] = it["mel"]
        extra = {}
        for key in ("durations", "pitch", "frame_pitch"):
            if key in items[0]:
                extra[key] = torch.nn.utils.rnn.pad_sequence([it[key] for it in items], batch_first=True)
        return {**extra, "ids": [it["id"] for it in items],
                "symbols": torch.nn.utils.rnn.pad_sequence([it["symbols"] for it in items], batch_first=True,
                                                            padding_value=pad_id),
                "symbol_lengths": sym_lens, "mels": mels, "mel_lengths": mel_lens,
                "speakers": torch.tensor([it["speaker"] for it in items], dtype=torch.long)}
    return collate


# The TTS models and their parameters tied to the symbol set (init_from).
TTS_MODELS = {"tacotron2": ("encoder.embedding.",), "centaur": ("embedding.",), "fastspeech": ("embedding.",)}


@TASKS.register("tts")
class TtsTask(Task):
    name = "tts"
    model_name = "tacotron2"
    vocab_layers = ("encoder.embedding.",)
    cost_unit = "mel frames"
    throughput_unit = "audio-s"
    defaults = {
        "model": "tacotron2",    # tacotron2 | centaur | fastspeech
        "frontend_conf": None,   # logmel settings, used when the data dir has no feats.scp
        "model_conf": {},        # Tacotron2 constructor arguments (n_mels and n_speakers are filled in)
        "mel_loss": "l2",        # l2 | l1: the loss of the mel frames (before and after the postnet)
        "duration_weight": 1.0,  # fastspeech: weight of the duration predictor's loss
        "pitch_weight": 0.1,     # fastspeech with model_conf.pitch: weight of the pitch predictor's loss
        "align_weight": 1.0,     # fastspeech with model_conf.aligner: weight of the forward-sum loss
        "bin_weight": 1.0,       # ... and of the binarization loss (after its warm-up)
        "stop_weight": 1.0,      # weight of the stop-token loss against the mel loss
        "stop_pos_weight": 5.0,  # the one "stop" frame per utterance is outnumbered; weigh it up
        "guided_attn_weight": 0.0,  # guided attention loss (Tachibana et al., 2017); 0: off
        "guided_attn_sigma": 0.2,   # its width, as a fraction of the text/decoder lengths
        "max_frames": 0,         # drop longer training utterances (0: keep all)
        "trim_silence_db": 0.0,  # cut leading/trailing frames this far below the loudest (0: keep)
        "plot_dir": None,        # alignment PNGs written here at every validation
    }
    help = {
        "model": "the TTS model: tacotron2 (Tacotron 2, recurrent), centaur (OpenSeq2Seq's convolutional "
                 "attention model) or fastspeech (non-autoregressive, trained on durations from one of the "
                 "others); speakers, style tokens and mel normalisation work the same in all three",
        "mel_loss": "l2 or l1: the loss of the predicted log-mel frames, before and after the postnet",
        "duration_weight": "fastspeech: weight of the duration loss (L2 of log(1 + frames) per symbol)",
        "pitch_weight": "fastspeech with model_conf.pitch (FastPitch): weight of the pitch loss (L2 of each "
                        "symbol's normalised log-F0, 0 when unvoiced; FastPitch's 0.1)",
        "align_weight": "fastspeech with model_conf.aligner: weight of the aligner's forward-sum loss (minus "
                        "the log-likelihood of the text under its soft alignment, per frame)",
        "bin_weight": "fastspeech with model_conf.aligner: weight of the binarization loss (the soft "
                      "alignment pulled onto its best monotonic path; model_conf.bin_start_steps and "
                      "bin_warmup_steps say when it starts and how fast it ramps up, counted in training "
                      "passes: with accum_grad, micro-batches)",
        "frontend_conf": "log-mel settings when the data dir has no dumped features",
        "model_conf": "Tacotron 2 arguments (n_mels and n_speakers are filled in)",
        "stop_weight": "weight of the stop-token loss against the mel loss",
        "stop_pos_weight": "weight of the one 'stop' frame per utterance in the stop-token loss",
        "guided_attn_weight": "guided attention loss (Tachibana et al., 2017); 0: off",
        "guided_attn_sigma": "its width, as a fraction of the text and decoder lengths",
        "max_frames": "drop longer training utterances (0: keep all)",
        "trim_silence_db": "cut leading and trailing frames more than this many dB below the utterance's "
                           "loudest frame, in training and validation (0: keep them); the model then "
                           "speaks without silence around the speech",
        "plot_dir": "alignment PNGs are written here at every validation",
    }

    def __init__(self, conf: dict):
        super().__init__(conf)
        self.model_name = conf.get("model", "tacotron2")
        if self.model_name not in TTS_MODELS:
            raise S2SError(f"model: {self.model_name!r} is not a TTS model; use one of {', '.join(TTS_MODELS)}")
        self.vocab_layers = TTS_MODELS[self.model_name]
        self.uses_pitch = self.model_name == "fastspeech" and bool((conf.get("model_conf") or {}).get("pitch"))
        self.uses_aligner = self.model_name == "fastspeech" and bool((conf.get("model_conf") or {}).get("aligner"))
        if conf.get("mel_loss", "l2") not in ("l1", "l2"):
            raise S2SError(f"mel_loss: {conf.get('mel_loss')!r} is not a mel loss; use l2 or l1")
        train_dirs = as_list(conf.get("train_data"))
        first = train_dirs[0] if train_dirs else None
        self.frontend_conf = (dumped_frontend_conf(first) if first else None) or conf.get("frontend_conf")
        if self.frontend_conf is None:
            raise S2SError("tts: no features; dump logmel features (utils/make_feats.sh) into the training data "
                           "dir or set frontend_conf: {type: logmel, ...}")
        if self.frontend_conf.get("type") != "logmel":
            raise S2SError(f"tts: targets must be logmel features (the vocoder inverts them), got "
                           f"type {self.frontend_conf.get('type')!r}; recompute with a logmel frontend config")
        self.frontend = build_frontend(self.frontend_conf)
        self.features = FeatureSource(self.frontend)
        self.vocab = tts_vocabulary()
        names = set()
        for d in train_dirs:
            names.update(DataDir(d).utt2spk().values())
        self.speaker_names = sorted(names) or ["default"]
        self.speaker_index = {s: i for i, s in enumerate(self.speaker_names)}
        self._evals = 0

    # -- data
    def dataset(self, split: str):
        dirs = as_list(self.conf.get("train_data" if split == "train" else "valid_data"))
        if not dirs:
            return None
        return TtsDataset(dirs, self.features, self.speaker_index, self.vocab,
                          self.conf.get("max_frames", 0) if split == "train" else 0,
                          self.conf.get("trim_silence_db", 0.0),
                          durations=self.model_name == "fastspeech" and not self.uses_aligner,
                          pitch=self.uses_pitch and not self.uses_aligner,
                          frame_pitch=self.uses_pitch and self.uses_aligner)

    def collate(self, items):
        return make_collate(self.model_args()["reduction"], self.vocab.pad_id)(items)

    # -- model
    def throughput(self, batch: dict) -> float:
        return float(batch["mel_lengths"].sum()) * self.frontend.frame_shift

    def model_args(self) -> dict:
        args = {"reduction": 1 if self.model_name == "fastspeech" else 2, **dict(self.conf.get("model_conf") or {})}
        args["n_mels"] = int(self.frontend_conf["num_mel_bins"])
        args["n_speakers"] = len(self.speaker_names)
        args["n_symbols"] = len(self.vocab)
        return args

    def init_model(self, model):
        """Per-bin mean and standard deviation of the training log-mels (after trimming; at most
        2000 utterances spread over the set), for a model that predicts normalised mels."""
        if getattr(model, "normalize_mels", False):
            data = self.dataset("train")
            total, sq, n = 0.0, 0.0, 0
            for i in sorted({k * len(data) // 2000 for k in range(2000)} if len(data) > 2000 else range(len(data))):
                mel = data[i]["mel"].double()
                total, sq, n = total + mel.sum(0), sq + (mel ** 2).sum(0), n + mel.shape[0]
            mean = total / n
            model.set_mel_stats(mean.float(), (sq / n - mean ** 2).clamp_min(0).sqrt().float())
            log.info("log-mel statistics of %d training frames: mean %.2f, std %.2f (averaged over bins)",
                     n, float(mean.mean()), float(model.mel_std.mean()))
        if getattr(model, "use_pitch", False):
            data = self.dataset("train")
            if data.frame_pitch is not None:  # the aligner's: voiced frames
                f0 = np.concatenate([f for f, _ in data.frame_pitch]).astype(np.float64)
                what = "frames"
            else:
                f0 = np.array([f for p in data.pitch for f in p], dtype=np.float64)
                what = "symbols"
            logs = np.log(f0[f0 > 0])
            if len(logs) < 2:
                raise S2SError(f"{', '.join(as_list(self.conf.get('train_data')))}: no voiced {what} in the pitch "
                               f"files; FastPitch needs F0 (set model_conf.pitch: false for plain FastSpeech)")
            model.set_pitch_stats(float(logs.mean()), float(max(logs.std(), 1e-3)))
            log.info("log-F0 statistics of %d voiced training %s: mean %.1f Hz, std %.3f (log)",
                     len(logs), what, float(np.exp(logs.mean())), float(logs.std()))
        return model

    def extra_meta(self) -> dict:
        return {"frontend_conf": self.frontend.conf, "speakers": self.speaker_names, "vocab": self.vocab.to_dict()}

    # -- loss
    def _mel_sum(self, model, batch, before, after):
        """The mel loss summed over valid frames, per bin, before and after the postnet (fp32)."""
        mels, lens = unwrap(model).normalize(batch["mels"]), batch["mel_lengths"]
        m = lengths_to_mask(lens, mels.shape[1])[..., None].float()
        if self.conf.get("mel_loss", "l2") == "l1":
            err = (before.float() - mels).abs() + (after.float() - mels).abs()
        else:
            err = (before.float() - mels) ** 2 + (after.float() - mels) ** 2
        return (err * m).sum() / mels.shape[-1]

    def _losses(self, model, batch):
        """Summed losses: (mel, stop or duration, frames, the alignment (autoregressive models) or a
        dict of FastSpeech's other summed losses, by name)."""
        if self.model_name == "fastspeech":
            before, after, log_dur, pitch_pred, aux = model(
                batch["symbols"], batch["symbol_lengths"], batch["mels"], batch["mel_lengths"], batch["speakers"],
                batch.get("durations"), batch.get("pitch"), batch.get("frame_pitch"))
            sym_mask = lengths_to_mask(batch["symbol_lengths"], log_dur.shape[1]).float()
            # Per symbol, scaled to the frames it spans on average, so that its weight against the
            # per-frame mel loss does not depend on the speaking rate.
            per_symbol = float(batch["mel_lengths"].sum()) / float(sym_mask.sum())
            target = torch.log1p(aux.get("durations", batch.get("durations")).float())
            dur_sum = (((log_dur.float() - target) ** 2) * sym_mask).sum() * per_symbol
            extra = {key: aux[key] for key in ("align", "bin") if key in aux}
            if pitch_pred is not None:
                target = unwrap(model).normalize_pitch(aux.get("pitch", batch.get("pitch")).float())
                extra["pitch"] = (((pitch_pred.float() - target) ** 2) * sym_mask).sum() * per_symbol
            return self._mel_sum(model, batch, before, after), dur_sum, float(batch["mel_lengths"].sum()), extra
        before, after, stop, align = model(batch["symbols"], batch["symbol_lengths"], batch["mels"],
                                           batch["mel_lengths"], batch["speakers"])
        lens = batch["mel_lengths"]
        mel_sum = self._mel_sum(model, batch, before, after)
        target = (torch.arange(stop.shape[1], device=lens.device)[None, :] >= (lens[:, None] - 1)).float()
        pos_weight = torch.tensor(self.conf.get("stop_pos_weight", 1.0), device=stop.device)
        # Over padded frames too (they all say "stop", as in NVIDIA's Tacotron 2): an utterance
        # alone has a single positive frame, too few to learn when to stop.
        stop_sum = F.binary_cross_entropy_with_logits(stop.float(), target, reduction="sum",
                                                      pos_weight=pos_weight)
        frames = float(lens.sum())
        return mel_sum, stop_sum, frames, align

    def _guided_attention(self, align, batch) -> torch.Tensor:
        """Attention mass far from the diagonal, summed (Tachibana et al., 2017, eq. 5):
        sum_{t,n} A[t,n] (1 - exp(-(n/N - t/T)^2 / (2 g^2))) over each utterance's valid area,
        times r so that, like the other sums, it counts per output frame."""
        r = self.model_args()["reduction"]
        steps = (batch["mel_lengths"] + r - 1) // r
        n_len = batch["symbol_lengths"]
        t = torch.arange(align.shape[1], device=align.device)[None, :, None] / steps[:, None, None].float()
        n = torch.arange(align.shape[2], device=align.device)[None, None, :] / n_len[:, None, None].float()
        g = self.conf.get("guided_attn_sigma", 0.2)
        w = 1.0 - torch.exp(-((n - t) ** 2) / (2 * g * g))
        valid = lengths_to_mask(steps, align.shape[1])[:, :, None] & lengths_to_mask(n_len, align.shape[2])[:, None, :]
        return (align.float() * w * valid).sum() * r

    def _second_weight(self) -> float:
        return self.conf.get("duration_weight" if self.model_name == "fastspeech" else "stop_weight", 1.0)

    def forward_loss(self, model, batch):
        mel_sum, second_sum, frames, align = self._losses(model, batch)
        loss = mel_sum + self._second_weight() * second_sum
        second = "duration" if self.model_name == "fastspeech" else "stop"
        stats = {"mel": mel_sum.item() / frames, second: second_sum.item() / frames}
        if isinstance(align, dict):  # fastspeech: the extra losses
            for key, value in align.items():
                loss = loss + self.conf.get(f"{key}_weight", 1.0) * value
                stats[key] = value.item() / frames
            return loss, frames, stats
        if self.conf.get("guided_attn_weight", 0.0) > 0:
            ga = self._guided_attention(align, batch)
            loss = loss + self.conf["guided_attn_weight"] * ga
            stats["guided_attn"] = ga.item() / frames
        return loss, frames, stats

    @torch.no_grad()
    def evaluate(self, model, loader) -> dict:
        mel_t = stop_t = frames_t = diag_t = 0.0
        extra_t: dict[str, float] = {}
        n_utts = 0
        first = None
        r = self.model_args()["reduction"]
        for batch in loader:
            mel_sum, stop_sum, frames, align = self._losses(model, batch)
            mel_t += mel_sum.item()
            stop_t += stop_sum.item()
            frames_t += frames
            if isinstance(align, dict):
                for key, value in align.items():
                    extra_t[key] = extra_t.get(key, 0.0) + value.item()
                align = None
            for b in range(0 if align is None else align.shape[0]):
                steps = -(-int(batch["mel_lengths"][b]) // r)
                n = int(batch["symbol_lengths"][b])
                diag_t += diagonal_score(align[b].cpu(), n, steps)
                n_utts += 1
                if first is None or n > first[1].shape[1]:  # plot the longest sentence seen
                    first = (batch["ids"][b], align[b, :steps, :n].float().cpu())
        self._evals += 1
        if first is not None and self.conf.get("plot_dir"):
            from s2s.score.plots import plot_alignment

            path = Path(self.conf["plot_dir"]) / f"alignment_{self._evals:04d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            plot_alignment(first[1].T, path, title=f"{first[0]} (validation {self._evals})")
        frames_t = max(frames_t, 1.0)
        w = self._second_weight()
        extra_w = sum(self.conf.get(f"{k}_weight", 1.0) * v for k, v in extra_t.items())
        out = {"loss": (mel_t + w * stop_t + extra_w) / frames_t, "mel_loss": mel_t / frames_t / 2}
        if self.model_name == "fastspeech":
            return {**out, "duration_loss": stop_t / frames_t, **{f"{k}_loss": v / frames_t for k, v in extra_t.items()}}
        return {**out, "stop_loss": stop_t / frames_t, "diagonal": diag_t / max(n_utts, 1)}
