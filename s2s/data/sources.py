"""The one feature source: what a speech model reads for each utterance of a Kaldi data dir.

An utterance comes from dumped features (``feats.scp``, written by utils/make_feats.sh
with ``frontend.yaml`` beside it) or from audio (``wav.scp``, ``segments`` honoured).
:class:`FeatureSource` hands out either the features the model's front end computes
(``load``: read from the ark, or computed from the audio with the front end) or the raw
waveform (``load_wave``) for a model that runs its own front end.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from s2s.data.datadir import DataDir
from s2s.errors import S2SError


def dumped_frontend_conf(data_dir) -> dict | None:
    """The front end the features of ``data_dir`` were dumped with (DATA/frontend.yaml), or None."""
    from s2s.config import safe_load

    f = Path(data_dir) / "frontend.yaml"
    if not f.is_file():
        return None
    with open(f, encoding="utf-8") as fh:
        return safe_load(fh)


def check_dumped_frontend(dd: DataDir, frontend_conf: dict | None) -> None:
    """S2SError when DATA/feats.scp was made with another front end than ``frontend_conf``."""
    if frontend_conf is None or not dd.has("feats.scp"):
        return
    dumped = dumped_frontend_conf(dd.path)
    if dumped is None:
        return
    from s2s.data.features import build_frontend

    dumped = build_frontend(dumped).conf  # every option resolved, as the model's
    frontend_conf = build_frontend(frontend_conf).conf
    diff = sorted(k for k in set(dumped) | set(frontend_conf)
                  if k not in ("dither", "seed", "resample") and dumped.get(k) != frontend_conf.get(k))
    if diff:
        shown = ", ".join(f"{k}: {dumped.get(k)!r} vs {frontend_conf.get(k)!r}" for k in diff[:4])
        raise S2SError(f"{dd.file('frontend.yaml')}: the features in {dd.file('feats.scp')} were computed with "
                       f"another front end than the model's ({shown}); recompute them with the model's front end "
                       f"(utils/make_feats.sh --conf ...) or remove feats.scp to read the audio")


class FeatureSource:
    """Features (T, D) or waveforms of data-dir utterances for a model with front end ``frontend``.

    ``frontend`` is None for a model trained on dumped features without a known front end;
    such a source reads feats.scp only. ``resample``: convert audio to the front end's rate
    (None: as the front end config says; inference passes True).
    """

    def __init__(self, frontend, resample: bool | None = None):
        self.frontend = frontend
        self.resample = resample

    @property
    def sample_rate(self) -> int | None:
        return None if self.frontend is None else int(self.frontend.sample_rate)

    def sources(self, dd: DataDir, prefer_feats: bool = True) -> tuple[dict, dict]:
        """Where each utterance of ``dd`` comes from, and the frame counts known without loading.

        Returns ``(src, n_frames)``: ``src[utt]`` is ``("scp", loader, key)`` when the dir has
        feats.scp (and ``prefer_feats``), else ``("wav", wav.scp entry, (start, end) or None)``
        (segments honoured); ``n_frames[utt]`` comes from utt2num_frames, or from utt2dur /
        segment times and the front end's frame shift. Pass ``src[utt]`` to ``load``.
        """
        import kaldiio

        if dd.has("feats.scp") and prefer_feats:
            check_dumped_frontend(dd, None if self.frontend is None else self.frontend.conf)
            loader = kaldiio.load_scp(str(dd.file("feats.scp")))
            return {u: ("scp", loader, u) for u in loader.keys()}, dd.table("utt2num_frames", required=False)
        if self.frontend is None:
            raise S2SError(f"{dd.path}: no feats.scp, and the model has no front end to compute features from "
                           f"the audio; dump features (utils/make_feats.sh) or train with a frontend_conf")
        wav, segs = dd.wav_scp(), dd.segments()
        shift = float(self.frontend.frame_shift)
        src, n_frames = {}, {}
        if segs is None:
            durs = dd.table("utt2dur", required=False)
            # Dumped frame counts serve as lengths too when the audio is read anyway (augmentation).
            counted = dd.table("utt2num_frames", required=False) if dd.has("feats.scp") else {}
            for u, spec in wav.items():
                src[u] = ("wav", spec, None)
                if u in durs:
                    n_frames[u] = str(int(float(durs[u]) / shift))
                elif u in counted:
                    n_frames[u] = counted[u]
            return src, n_frames
        for u, (rec, start, end) in segs.items():
            if rec not in wav:
                raise S2SError(f"{dd.file('segments')}: recording {rec!r} of {u!r} is not in wav.scp")
            src[u] = ("wav", wav[rec], (start, end))
            if end > 0:
                n_frames[u] = str(int((end - start) / shift))
        return src, n_frames

    def load_wave(self, src) -> np.ndarray:
        """The mono float32 waveform of a ``("wav", ...)`` entry at the front end's sample rate."""
        from s2s.data.audio import load_audio

        resample = self.resample if self.resample is not None else bool(self.frontend.conf.get("resample", False))
        wav, sr = load_audio(src[1], target_sr=self.sample_rate, resample=resample, context=src[1])
        if src[2] is not None:
            start, end = src[2]
            wav = wav[int(start * sr): (int(end * sr) if end > 0 else None)]
        return wav

    def load(self, src) -> torch.Tensor:
        """The (T, D) features of one ``sources`` entry: read from the ark, or computed from audio."""
        if src[0] == "scp":
            return torch.from_numpy(np.array(src[1][src[2]], dtype=np.float32))
        return self.frontend.extract(self.load_wave(src), self.sample_rate)
