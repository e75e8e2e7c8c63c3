"""On-the-fly data augmentation: SpecAugment on features; noise, tempo and shifts on waveforms.

Two kinds of augmentation, told apart by ``.kind``:

- ``"feats"``: ``aug(feats, lengths=None) -> feats`` on a (T, D) matrix or a
  padded (B, T, D) batch; with ``lengths`` only valid frames are touched.
- ``"wave"``: ``aug(wav, sr) -> wav`` on a 1-D float waveform (numpy array or
  tensor; the same type comes back).

Randomness: with ``seed=None`` (the default, what training wants) draws come
from torch's global RNG, which the trainer seeds and the DataLoader re-seeds
per worker and epoch, so runs are reproducible and epochs differ. With an
explicit ``seed`` an augmenter owns a ``torch.Generator``: the same seed gives
the same sequence of draws (inside a DataLoader worker the worker's seed is
mixed in, so workers do not repeat each other). Inside ``draws_from(generator)``
every augmenter draws from that generator instead: a dataset that seeds it from
(seed, epoch, item) gets augmentations that do not depend on the number of
workers or on where a resumed run picked up the epoch.

Configs build these by name with ``build_augment``::

    specaug_conf: {freq_masks: 2, freq_width: 27, time_masks: 2, time_width: 0.05}
    noise_conf:
      - {type: white_noise, min_db: -90, max_db: -46}
      - {type: background_noise, noise_dir: data/musan_noise, snr_min: 0, snr_max: 15, prob: 0.5}
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from s2s.errors import S2SError
from s2s.registry import Registry

AUGMENTS = Registry("augmentation")
_override = threading.local()


@contextlib.contextmanager
def draws_from(generator: torch.Generator):
    """Every augmenter (and RandomApply's coin) draws from ``generator`` inside the block."""
    before = getattr(_override, "generator", None)
    _override.generator = generator
    try:
        yield generator
    finally:
        _override.generator = before


class Augment:
    """Base class: RNG handling shared by all augmenters."""

    kind = "wave"

    def __init__(self, seed: int | None = None):
        self.seed = seed
        self._generator: torch.Generator | None = None
        self._rng_key: object = "unset"

    def generator(self) -> torch.Generator | None:
        """The generator to draw from (None: torch's global RNG)."""
        forced = getattr(_override, "generator", None)
        if forced is not None:
            return forced
        if self.seed is None:
            return None
        info = torch.utils.data.get_worker_info()
        key = None if info is None else info.seed
        if key != self._rng_key:
            seed = self.seed if key is None else (self.seed * 1_000_003 + key) % (2**63)
            self._generator = torch.Generator().manual_seed(seed)
            self._rng_key = key
        return self._generator

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * torch.rand((), generator=self.generator()).item()

    def randint(self, low: int, high: int) -> int:
        """Uniform integer in [low, high], both ends included."""
        return int(torch.randint(low, high + 1, (), generator=self.generator()).item())


# ---------------------------------------------------------------- features


@dataclass(frozen=True)
class Mask:
    """A masked rectangle: frames [t0, t1) x feature bins [f0, f1)."""

    t0: int
    t1: int
    f0: int
    f1: int


@AUGMENTS.register("specaugment")
@AUGMENTS.register("specaug")
class SpecAugment(Augment):
    """SpecAugment (Park et al., 2019) frequency and time masks, plus SpecCutout rectangles.

    Each frequency mask covers w ~ U{0..freq_width} consecutive bins over all
    valid frames; each time mask covers w ~ U{0..time_width} consecutive frames
    over all bins, where a float ``time_width`` is a fraction of the utterance's
    length (as NeMo does); each rectangle covers U{0..rect_time} frames by
    U{0..rect_freq} bins. Masked values become ``mask_value`` (0 = the mean of
    normalised features).
    """

    kind = "feats"

    def __init__(self, freq_masks: int = 0, freq_width: int = 10, time_masks: int = 0,
                 time_width: int | float = 0.05, rect_masks: int = 0, rect_time: int = 5,
                 rect_freq: int = 20, mask_value: float = 0.0, seed: int | None = None):
        super().__init__(seed)
        for name, value in (("freq_masks", freq_masks), ("freq_width", freq_width), ("time_masks", time_masks),
                            ("time_width", time_width), ("rect_masks", rect_masks), ("rect_time", rect_time),
                            ("rect_freq", rect_freq)):
            if value < 0:
                raise S2SError(f"specaug_conf: {name} must be >= 0, got {value}")
        if isinstance(time_width, float) and time_width > 1.0:
            raise S2SError(f"specaug_conf: a float time_width is a fraction of the length, <= 1.0; got {time_width}")
        self.freq_masks, self.freq_width = freq_masks, freq_width
        self.time_masks, self.time_width = time_masks, time_width
        self.rect_masks, self.rect_time, self.rect_freq = rect_masks, rect_time, rect_freq
        self.mask_value = mask_value

    def masks(self, num_frames: int, dim: int) -> list[Mask]:
        """Draw the masks for one utterance of ``num_frames`` valid frames and ``dim`` bins."""
        out = []
        if num_frames <= 0:
            return out
        for _ in range(self.freq_masks):
            w = self.randint(0, min(self.freq_width, dim))
            f0 = self.randint(0, dim - w)
            out.append(Mask(0, num_frames, f0, f0 + w))
        max_t = self.time_width if isinstance(self.time_width, int) else int(self.time_width * num_frames)
        for _ in range(self.time_masks):
            w = self.randint(0, min(max_t, num_frames))
            t0 = self.randint(0, num_frames - w)
            out.append(Mask(t0, t0 + w, 0, dim))
        for _ in range(self.rect_masks):
            wt = self.randint(0, min(self.rect_time, num_frames))
            wf = self.randint(0, min(self.rect_freq, dim))
            t0 = self.randint(0, num_frames - wt)
            f0 = self.randint(0, dim - wf)
            out.append(Mask(t0, t0 + wt, f0, f0 + wf))
        return out

    def __call__(self, feats: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """A masked copy of ``feats`` (T, D), or of a (B, T, D) batch with valid ``lengths`` (B,)."""
        if feats.dim() == 2:
            return self(feats.unsqueeze(0), None if lengths is None else lengths.reshape(1)).squeeze(0)
        if feats.dim() != 3:
            raise ValueError(f"SpecAugment expects (T, D) or (B, T, D) features, got shape {tuple(feats.shape)}")
        out = feats.clone()
        batch, frames, dim = out.shape
        for b in range(batch):
            valid = frames if lengths is None else int(min(int(lengths[b]), frames))
            for m in self.masks(valid, dim):
                out[b, m.t0:m.t1, m.f0:m.f1] = self.mask_value
        return out


# ---------------------------------------------------------------- waveforms


def _to_numpy(wav) -> tuple[np.ndarray, bool]:
    if isinstance(wav, torch.Tensor):
        return wav.detach().cpu().numpy().astype(np.float32, copy=False), True
    return np.asarray(wav, dtype=np.float32), False


def _like(result: np.ndarray, was_tensor: bool):
    return torch.from_numpy(np.ascontiguousarray(result, dtype=np.float32)) if was_tensor else result.astype(np.float32)


@AUGMENTS.register("white_noise")
class WhiteNoise(Augment):
    """Add Gaussian noise whose level is drawn uniformly in [min_db, max_db] dB FS.

    As OpenSeq2Seq's ``noise_level_min/max``: the noise standard deviation is
    10 ** (dB / 20) relative to full scale 1.0 of a [-1, 1] waveform.
    """

    def __init__(self, min_db: float = -90.0, max_db: float = -46.0, seed: int | None = None):
        super().__init__(seed)
        if min_db > max_db:
            raise S2SError(f"noise_conf: white_noise min_db ({min_db}) must be <= max_db ({max_db})")
        self.min_db, self.max_db = min_db, max_db

    def __call__(self, wav, sr: int | None = None):
        x, was_tensor = _to_numpy(wav)
        level_db = self.uniform(self.min_db, self.max_db)
        noise = torch.randn(x.shape, generator=self.generator()).numpy()
        return _like(x + noise * 10.0 ** (level_db / 20.0), was_tensor)


@AUGMENTS.register("background_noise")
class BackgroundNoise(Augment):
    """Mix a random excerpt of a random noise recording at an SNR drawn from [snr_min, snr_max] dB.

    Noise comes from ``noise_files`` (paths or wav.scp-style specs) and/or
    ``noise_dir``: a Kaldi data directory (its wav.scp) or a directory of audio files
    searched recursively (e.g. MUSAN's ``noise/``). Every file is checked when the
    augmenter is built, so an unreadable one stops training before it starts, by name. A
    recording shorter than the speech is repeated. The SNR is the ratio of the whole
    utterance's power to the added noise's power. Recordings are loaded (and resampled to
    the speech's rate) on first use and a few are cached.
    """

    def __init__(self, noise_files: list[str] | None = None, noise_dir: str | None = None,
                 snr_min: float = 0.0, snr_max: float = 20.0, seed: int | None = None):
        super().__init__(seed)
        if snr_min > snr_max:
            raise S2SError(f"noise_conf: background_noise snr_min ({snr_min}) must be <= snr_max ({snr_max}); "
                           "swap them")
        specs = list(noise_files or [])
        if noise_dir is not None:
            specs += noise_specs(noise_dir)
        if not specs:
            raise S2SError("noise_conf: background_noise needs noise_files (a list of wavs) or noise_dir "
                           "(a directory of audio files, or a data dir with wav.scp)")
        for spec in specs:
            _check_readable(spec, noise_dir)
        self.specs = specs
        self.snr_min, self.snr_max = snr_min, snr_max
        self._load = functools.lru_cache(maxsize=32)(self._load_uncached)

    def __getstate__(self):
        # The cache holds a bound method and audio; workers build their own.
        state = self.__dict__.copy()
        del state["_load"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._load = functools.lru_cache(maxsize=32)(self._load_uncached)

    def _load_uncached(self, spec: str, sr: int) -> np.ndarray:
        from s2s.data.audio import load_audio

        noise, _ = load_audio(spec, target_sr=sr, resample=True, context="background_noise")
        return noise

    def __call__(self, wav, sr: int):
        x, was_tensor = _to_numpy(wav)
        signal_power = float(np.mean(x.astype(np.float64) ** 2)) if x.size else 0.0
        spec = self.specs[self.randint(0, len(self.specs) - 1)]
        snr_db = self.uniform(self.snr_min, self.snr_max)
        noise = self._load(spec, sr)
        if signal_power == 0.0 or noise.size == 0:
            return _like(x, was_tensor)
        if len(noise) < len(x):
            noise = np.tile(noise, -(-len(x) // len(noise)))
        start = self.randint(0, len(noise) - len(x))
        segment = noise[start:start + len(x)].astype(np.float64)
        noise_power = float(np.mean(segment ** 2))
        if noise_power == 0.0:
            return _like(x, was_tensor)
        gain = np.sqrt(signal_power / (noise_power * 10.0 ** (snr_db / 10.0)))
        return _like(x + gain * segment, was_tensor)


AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".sph", ".aiff", ".aif", ".au")


def noise_specs(noise_dir: str) -> list[str]:
    """The recordings of ``noise_dir``: its wav.scp entries, else its audio files (recursive, sorted)."""
    d = Path(noise_dir)
    if not d.is_dir():
        raise S2SError(f"noise_conf: background_noise noise_dir {noise_dir}: no such directory")
    if (d / "wav.scp").is_file():
        from s2s.data.datadir import DataDir

        return list(DataDir(noise_dir).wav_scp().values())
    files = sorted(str(p) for p in d.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if not files:
        raise S2SError(f"noise_conf: background_noise noise_dir {noise_dir}: no audio files "
                       f"({', '.join(AUDIO_SUFFIXES)}) and no wav.scp")
    return files


def _check_readable(spec: str, noise_dir: str | None) -> None:
    """A plain file must open as audio (pipes and ark specs are checked when first used)."""
    if spec.rstrip().endswith("|") or ":" in spec and not Path(spec).exists():
        return
    import soundfile as sf

    try:
        info = sf.info(spec)
        if info.frames == 0:
            raise ValueError("it has no samples")
    except Exception as e:  # noqa: BLE001 - any reason makes the file unusable
        where = f" (in noise_dir {noise_dir})" if noise_dir else ""
        raise S2SError(f"noise_conf: background_noise: {spec}{where} cannot be used as noise: {e}; "
                       "remove or replace it") from None


def _sox_binary() -> str:
    sox = shutil.which("sox")
    if sox is None:
        raise S2SError("sox not found on PATH; install it (apt-get install sox, or tools/setup.sh)")
    return sox


def sox_tempo(wav: np.ndarray, sr: int, factor: float) -> np.ndarray:
    """``wav`` played ``factor`` times faster at the same pitch (sox ``tempo -s``)."""
    raw = ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-r", str(sr)]
    cmd = [_sox_binary(), "-D", *raw, "-", *raw, "-", "tempo", "-s", f"{factor:.6f}"]
    proc = subprocess.run(cmd, input=np.ascontiguousarray(wav, dtype=np.float32).tobytes(),
                          capture_output=True)
    if proc.returncode != 0:
        raise S2SError(f"time_stretch: {' '.join(cmd)} failed: {proc.stderr.decode(errors='replace').strip()}")
    return np.frombuffer(proc.stdout, dtype=np.float32).copy()


@AUGMENTS.register("time_stretch")
class TimeStretch(Augment):
    """Change tempo (not pitch) by a factor drawn in [min_factor, max_factor] with sox ``tempo``.

    A factor f > 1 speeds speech up: the output has about len / f samples.
    """

    def __init__(self, min_factor: float = 0.9, max_factor: float = 1.1, seed: int | None = None):
        super().__init__(seed)
        if not 0.1 <= min_factor <= max_factor <= 10.0:
            raise S2SError(f"noise_conf: time_stretch needs 0.1 <= min_factor <= max_factor <= 10, "
                           f"got {min_factor}, {max_factor}")
        self.min_factor, self.max_factor = min_factor, max_factor

    def __call__(self, wav, sr: int):
        x, was_tensor = _to_numpy(wav)
        factor = self.uniform(self.min_factor, self.max_factor)
        if len(x) == 0 or factor == 1.0:
            return _like(x, was_tensor)
        return _like(sox_tempo(x, sr, factor), was_tensor)


@AUGMENTS.register("speed")
class SpeedPerturb(Augment):
    """Speed perturbation: play the audio ``f`` times faster, pitch and tempo together (Kaldi's and
    OpenSeq2Seq's ``speed_perturbation_ratio``: the signal resampled from sr to sr / f, soxr HQ).

    ``factors``: a list to choose from uniformly (``[0.9, 1.0, 1.1]``, Ko et al. 2015), or
    ``min_factor``/``max_factor`` for a uniform draw.
    """

    def __init__(self, factors: list | None = None, min_factor: float | None = None,
                 max_factor: float | None = None, seed: int | None = None):
        super().__init__(seed)
        if factors is None and min_factor is None and max_factor is None:
            factors = [0.9, 1.0, 1.1]
        if factors is not None and (min_factor is not None or max_factor is not None):
            raise S2SError("noise_conf: speed takes factors (a list) or min_factor/max_factor, not both")
        values = list(factors) if factors is not None else [min_factor, max_factor]
        if any(not isinstance(v, (int, float)) or isinstance(v, bool) or v is None for v in values) or not values:
            raise S2SError(f"noise_conf: speed factors must be numbers, got {values!r}")
        if any(v <= 0 for v in values):
            raise S2SError(f"noise_conf: speed factors must be > 0 (1.1 is 10 % faster), got {values!r}")
        if factors is None and min_factor > max_factor:
            raise S2SError(f"noise_conf: speed min_factor ({min_factor}) must be <= max_factor ({max_factor})")
        self.factors = [float(v) for v in factors] if factors is not None else None
        self.min_factor, self.max_factor = (None, None) if factors is not None else (min_factor, max_factor)

    def __call__(self, wav, sr: int):
        x, was_tensor = _to_numpy(wav)
        if self.factors is not None:
            factor = self.factors[self.randint(0, len(self.factors) - 1)]
        else:
            factor = self.uniform(self.min_factor, self.max_factor)
        if len(x) == 0 or factor == 1.0:
            return _like(x, was_tensor)
        import soxr

        return _like(soxr.resample(x, sr, sr / factor, quality="HQ"), was_tensor)


@AUGMENTS.register("time_shift")
class RandomTimeShift(Augment):
    """Shift the waveform by up to ``max_shift_s`` seconds either way, zero-filled, same length.

    The keyword-spotting augmentation of the Speech Commands baselines: a word
    may start anywhere in its one-second clip.
    """

    def __init__(self, max_shift_s: float = 0.1, seed: int | None = None):
        super().__init__(seed)
        if max_shift_s < 0:
            raise S2SError(f"noise_conf: time_shift max_shift_s must be >= 0, got {max_shift_s}")
        self.max_shift_s = max_shift_s

    def __call__(self, wav, sr: int):
        x, was_tensor = _to_numpy(wav)
        limit = min(int(round(self.max_shift_s * sr)), len(x))
        shift = self.randint(-limit, limit)
        out = np.zeros_like(x)
        if shift > 0:
            out[shift:] = x[:len(x) - shift]
        elif shift < 0:
            out[:shift] = x[-shift:]
        else:
            out[:] = x
        return _like(out, was_tensor)


# ---------------------------------------------------------------- composition


class RandomApply(Augment):
    """Apply ``augment`` with probability ``prob``."""

    def __init__(self, augment, prob: float, seed: int | None = None):
        super().__init__(seed)
        self.augment, self.prob, self.kind = augment, prob, augment.kind

    def __call__(self, x, *args):
        if self.prob >= 1.0 or torch.rand((), generator=self.generator()).item() < self.prob:
            return self.augment(x, *args)
        return x


class Compose:
    """Apply augmenters of one kind in order."""

    def __init__(self, augments: list):
        kinds = {a.kind for a in augments}
        if len(kinds) > 1:
            raise S2SError("augmentation list mixes feature (specaugment) and waveform augmentations; "
                           "put SpecAugment in specaug_conf and waveform ones in noise_conf")
        self.augments = augments
        self.kind = kinds.pop() if kinds else "wave"

    def __call__(self, x, *args):
        for augment in self.augments:
            x = augment(x, *args)
        return x


def build_augment(conf: dict | list | None, default_type: str | None = None, context: str = "augment conf"):
    """Build an augmenter from YAML data; None for an empty conf.

    ``conf`` is ``{type: NAME, prob: P, **constructor args}`` (``type`` may be left
    out when ``default_type`` is given, e.g. ``"specaugment"`` for specaug_conf)
    or a list of such mappings, applied in order, or a mapping from type names to
    their arguments (``{specaug: {freq_masks: 2, ...}}``). Types: specaugment (alias
    specaug), white_noise, background_noise, speed, time_stretch, time_shift.
    """
    if not conf:
        return None
    if isinstance(conf, list):
        return Compose([build_augment(c, default_type, f"{context}[{i}]") for i, c in enumerate(conf)])
    if not isinstance(conf, dict):
        raise S2SError(f"{context}: expected a mapping or a list of mappings, got {conf!r}")
    conf = dict(conf)
    if "type" not in conf and default_type is None and all(k in AUGMENTS for k in conf):
        # The by-name form: {specaug: {...}, white_noise: {...}}.
        built = [build_augment(dict(sub or {}, type=k), None, f"{context}.{k}") for k, sub in conf.items()]
        return built[0] if len(built) == 1 else Compose(built)
    name = conf.pop("type", default_type)
    if name is None:
        raise S2SError(f"{context}: missing 'type'; valid types: {', '.join(AUGMENTS.names())}")
    prob = conf.pop("prob", 1.0)
    if not isinstance(prob, (int, float)) or isinstance(prob, bool) or not 0.0 <= prob <= 1.0:
        raise S2SError(f"{context}: prob must be a number in [0, 1], got {prob!r}")
    augment = AUGMENTS.build(name, conf, context=context)
    if prob < 1.0:
        seed = None if augment.seed is None else augment.seed + 1
        return RandomApply(augment, float(prob), seed=seed)
    return augment

