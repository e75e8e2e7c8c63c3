"""Acoustic front ends: Kaldi-compatible fbank/MFCC and NeMo-style log-mel, as ``nn.Module``s.

``build_frontend({"type": "fbank", "num_mel_bins": 80, ...})`` returns a
:class:`Frontend`. It is part of every speech model (``s2s.models``), so a
checkpoint or an exported model goes from waveforms to outputs, and it also dumps
features for fast training (``utils/make_feats.sh``):

- ``frontend(wav, lengths)``: a batch of waveforms ``(B, N)`` (valid samples
  ``n < lengths[b]``) -> ``(feats (B, T, D), frame_lengths (B,))``. Each
  utterance's valid frames are exactly what it gives alone (padding invariance).
- ``frontend.extract(wav, sr, generator=None)``: one 1-D waveform -> ``(T, D)``,
  with the sample rate checked; dither, when on, draws from ``generator``.

Conventions
- Input waveforms are float in [-1, 1] (what :func:`s2s.data.audio.load_audio`
  returns). The Kaldi types (``fbank``, ``mfcc``) multiply by 32768 first, as
  Kaldi works on int16-range samples, so their ``dither`` and ``energy_floor``
  are in Kaldi's units and outputs match ``compute-fbank-feats`` /
  kaldi-native-fbank fed with int16-range samples. ``logmel`` works on [-1, 1]
  directly like NeMo.
- Defaults follow Kaldi except ``dither`` (0.0 here, 1.0 in Kaldi) and
  ``num_mel_bins`` (80 for fbank): dumped features should be reproducible.
  Dither is applied by ``extract`` (seeded per utterance when dumping) and by
  ``forward`` in training mode; a model in eval mode never dithers, so inference
  and exported models are deterministic.
- All frames are computed at once: framing is a strided view (a convolution with an
  identity kernel when traced, the same numbers), the spectrum an FFT (when traced or
  exported, one matmul with the DFT matrix, window folded in, which ONNX can express) and
  the mel filterbank a matmul, so the module runs at full speed eagerly and traces and
  exports (TorchScript, ONNX) with dynamic batch and time axes.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import torch
from torch import Tensor, nn

from s2s.errors import S2SError
from s2s.registry import Registry, check_kwargs

FRONTENDS = Registry("frontend")

# Kaldi floors energies at FLT_EPSILON before taking the log.
FLT_EPSILON = float(np.finfo(np.float32).eps)
# Filters per block of the eager fast path's mel product: 16 float32 columns fill an AVX-512
# register (two AVX2 ones); for 80 filters, 5 blocks of 16 ran 2.1x faster than the dense product,
# blocks of 20 or 10 1.5-1.6x (benchmarks/features.py's machine).
MEL_BAND_WIDTH = 16
KALDI_WINDOWS = ("povey", "hamming", "hann", "hanning", "rectangular", "blackman", "sine")


def build_frontend(conf: dict) -> "Frontend":
    """Build a front end from plain config data: ``{"type": NAME, **options}``.

    Unknown keys or values of the wrong type raise S2SError naming the key.
    """
    if not isinstance(conf, dict):
        raise S2SError(f"frontend config must be a mapping like {{type: fbank, num_mel_bins: 80}}, got {conf!r}")
    conf = dict(conf)
    kind = conf.pop("type", None)
    if kind is None:
        raise S2SError(f"frontend config: missing key 'type'; one of: {', '.join(FRONTENDS.names())}")
    ctor = FRONTENDS.get(kind, context="frontend config key 'type'")
    check_kwargs(ctor, conf, f"frontend config (type {kind!r})")
    return ctor(**conf)


class Frontend(nn.Module):
    """Waveforms -> features. Subclasses set ``dim``, ``frame_shift`` (s) and ``sample_rate``
    and implement ``num_frames`` and ``compute``."""

    type: str = ""
    dim: int
    frame_shift: float  # seconds
    sample_rate: int

    def __init__(self, options: dict):
        super().__init__()
        self._options = options
        self._dither = float(options.get("dither", 0.0))
        self._generator = torch.Generator().manual_seed(int(options.get("seed", 0)))

    @property
    def conf(self) -> dict:
        """The fully resolved config (every option, defaults included), as plain data."""
        return {"type": self.type, **self._options}

    def num_frames(self, num_samples: int) -> int:
        """Number of feature frames for a waveform of ``num_samples`` samples."""
        return int(self.frame_lengths(torch.tensor([int(num_samples)]))[0])

    def frame_lengths(self, lengths: Tensor) -> Tensor:
        """Frames per utterance (B,) for waveform lengths (B,) in samples; 0 for an empty one."""
        raise NotImplementedError

    def forward(self, wav: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Features ``(B, T, dim)`` float32 and frames per utterance for waveforms ``(B, N)``.

        T is the frame count of the padded width N, so the code has no data-dependent
        sizes and traces/exports with dynamic batch and time axes. N must give at least
        one frame (``num_frames(N) >= 1``); shorter inputs are the caller's to refuse.
        """
        return self.compute(wav.to(torch.float32), lengths, None, self.training and self._dither > 0), \
            self.frame_lengths(lengths)

    def extract(self, wav, sr: int, generator: torch.Generator | None = None) -> Tensor:
        """Features ``(T, dim)`` of one 1-D waveform; T = ``num_frames(len(wav))``."""
        if sr != self.sample_rate:
            raise S2SError(
                f"{self.type} frontend expects {self.sample_rate} Hz audio, got {sr} Hz; set 'resample: true' "
                f"in the frontend config or set 'sample_rate: {sr}'"
            )
        x = torch.as_tensor(wav)
        if x.dim() != 1:
            raise S2SError(f"{self.type} frontend expects a 1-D mono waveform, got shape {tuple(x.shape)}")
        x = x.to(torch.float32)[None]
        if self.num_frames(x.shape[1]) == 0:  # too short for one frame
            return x.new_zeros((0, self.dim))
        n = torch.tensor([x.shape[1]], device=x.device)
        gen = generator if generator is not None else self._generator
        with torch.no_grad():
            return self.compute(x, n, gen, self._dither > 0)[0]

    def compute(self, x: Tensor, lengths: Tensor, generator: torch.Generator | None, dither: bool) -> Tensor:
        """``(B, num_frames(N), dim)`` features of padded waveforms ``(B, N)``; frames past an utterance's
        end are undefined."""
        raise NotImplementedError

    def _noise(self, shape, like: Tensor, generator: torch.Generator | None) -> Tensor:
        # Noise is drawn on the CPU (generator or global RNG) so results do not depend on the device.
        return torch.randn(shape, generator=generator, dtype=like.dtype).to(like.device)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.conf.items())


def _check(cond: bool, key: str, msg: str, kind: str) -> None:
    if not cond:
        raise S2SError(f"frontend config (type {kind!r}): key {key!r} {msg}")


def _mask_samples(x: Tensor, lengths: Tensor) -> Tensor:
    """Zero every sample at or past each utterance's length."""
    valid = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None].to(x.device)
    return x * valid.to(x.dtype)


def _reflect_index(pos: Tensor, lengths: Tensor, include_edge: bool) -> Tensor:
    """Per-utterance indices (B, L) of positions ``pos`` (L,) mirrored into [0, n_b).

    ``include_edge``: Kaldi's rule (the edge sample is repeated: -1 -> 0); otherwise
    torch's ``reflect`` (-1 -> 1). Positions inside [0, n_b) map to themselves.
    """
    n = lengths.clamp_min(1)[:, None].to(pos.device)
    p = pos[None, :].expand(n.shape[0], -1)
    if include_edge:
        m = torch.remainder(p, 2 * n)
        return torch.where(m >= n, 2 * n - 1 - m, m)
    period = (2 * n - 2).clamp_min(1)
    m = torch.remainder(p, period)
    return torch.where(m >= n, period - m, m)


def framing_kernel(win: int) -> Tensor:
    """``(win, 1, win)`` identity kernel: ``conv1d`` with it and stride ``hop`` cuts a signal into frames.

    A convolution (unlike ``unfold``) keeps batch and time dynamic when the model is traced
    for TorchScript or ONNX, and each output is one sample times 1: the frames are exact.
    """
    return torch.eye(win, dtype=torch.float32)[:, None, :]


def frames_of(x: Tensor, kernel: Tensor, hop: int) -> Tensor:
    """``(B, T, win)`` frames of ``x`` (B, N) every ``hop`` samples, ``T = 1 + (N - win) // hop``.

    Eagerly a strided view (no copy); traced for export, the identity convolution, which
    gives the same numbers with dynamic shapes."""
    if torch.jit.is_tracing():
        return torch.nn.functional.conv1d(x[:, None, :], kernel, stride=hop).transpose(1, 2)
    return x.unfold(1, kernel.shape[-1], hop)


def dft_matrix(win: int, n_fft: int, window: Tensor | None = None) -> Tensor:
    """``(win, 2 * (n_fft // 2 + 1))`` real DFT of a ``win``-sample frame zero-padded to ``n_fft``
    (cosines, then minus sines), with ``window`` folded in: ``frames @ M`` is the windowed
    spectrum's real and imaginary parts. A matmul instead of ``torch.fft.rfft`` exports to
    ONNX; at about 0.5 ms per second of audio it costs little next to any encoder."""
    n = torch.arange(win, dtype=torch.float64)[:, None]
    k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[None, :]
    angle = 2 * math.pi * n * k / n_fft
    m = torch.cat([torch.cos(angle), -torch.sin(angle)], dim=1)
    if window is not None:
        m = m * window.double()[:, None]
    return m.float()


def exporting() -> bool:
    """True while a model is traced or scripted (TorchScript, ONNX export)."""
    return torch.jit.is_tracing() or torch.jit.is_scripting() or torch.onnx.is_in_onnx_export()


def power_spectrum(frames: Tensor, dft: Tensor, window: Tensor, n_fft: int, scale: float = 1.0) -> Tensor:
    """``|DFT|^2`` (B, T, bins) of frames (B, T, win): ``window`` applied, zero-padded to ``n_fft``,
    the first ``dft.shape[1] / 2`` bins, times ``scale``.

    Eagerly (training, decoding) an FFT, the fastest way; traced or exported, the matmul with
    ``dft`` (``dft_matrix`` with the window and scale folded in), which ONNX can express. Both
    give the same spectrum to float32 rounding (tests)."""
    half = dft.shape[1] // 2
    if not exporting():
        spec = torch.fft.rfft(frames * window, n=n_fft)[..., :half]
        power = spec.real.square() + spec.imag.square()
        return power * scale if scale != 1.0 else power
    spec = frames @ dft
    return spec[..., :half].square() + spec[..., half:].square()


# --------------------------------------------------------------------------- Kaldi


def kaldi_window(window_type: str, size: int, blackman_coeff: float = 0.42) -> torch.Tensor:
    """Kaldi's analysis windows (feature-window.cc), computed in float64."""
    n = np.arange(size, dtype=np.float64)
    a = 2 * math.pi / (size - 1) if size > 1 else 0.0
    if window_type == "hanning":
        w = 0.5 - 0.5 * np.cos(a * n)
    elif window_type == "hann":  # kaldi-native-fbank's "hann" is the periodic Hann window
        w = 0.5 - 0.5 * np.cos(2 * math.pi * n / size)
    elif window_type == "hamming":
        w = 0.54 - 0.46 * np.cos(a * n)
    elif window_type == "povey":  # like Hamming but reaches zero at the edges
        w = (0.5 - 0.5 * np.cos(a * n)) ** 0.85
    elif window_type == "rectangular":
        w = np.ones(size)
    elif window_type == "sine":
        w = np.sin(0.5 * a * n)
    elif window_type == "blackman":
        w = blackman_coeff - 0.5 * np.cos(a * n) + (0.5 - blackman_coeff) * np.cos(2 * a * n)
    else:
        raise ValueError(window_type)
    return torch.from_numpy(w.astype(np.float32))


def kaldi_mel_banks(num_bins: int, padded_window: int, sample_rate: float,
                    low_freq: float, high_freq: float) -> torch.Tensor:
    """Kaldi's triangular mel filters on the HTK mel scale, as a ``(padded/2 + 1, num_bins)`` matrix.

    Kaldi only uses FFT bins ``0 .. padded/2 - 1``; the Nyquist row stays zero.
    """
    def mel(f):
        return 1127.0 * np.log(1.0 + f / 700.0)

    num_fft_bins = padded_window // 2
    bin_width = sample_rate / padded_window
    mel_low, mel_high = mel(low_freq), mel(high_freq)
    delta = (mel_high - mel_low) / (num_bins + 1)
    fft_mel = mel(bin_width * np.arange(num_fft_bins))
    left = mel_low + np.arange(num_bins)[:, None] * delta
    center = left + delta
    right = center + delta
    up = (fft_mel - left) / (center - left)
    down = (right - fft_mel) / (right - center)
    w = np.where(fft_mel <= center, up, down)
    w = np.where((fft_mel > left) & (fft_mel < right), w, 0.0)
    out = np.zeros((num_fft_bins + 1, num_bins), dtype=np.float32)
    out[:num_fft_bins] = w.T
    return torch.from_numpy(out)


# The eager fast path's working buffers, kept per thread from one call to the next: a new 1 MB
# buffer per 5 s utterance costs more than the arithmetic on it (benchmarks/README.md).
_BUFFERS = threading.local()
REUSED_BUFFER_BYTES = 4 << 20


def _reused(name: str, shape: tuple, like: Tensor, key: tuple = ()) -> Tensor | None:
    """A ``shape`` buffer of ``like``'s dtype and device, kept from call to call in this thread (one
    per name, key, dtype and device), or None when it would exceed REUSED_BUFFER_BYTES. It is zeros
    when made; what a caller writes into it stays, so callers sharing a key keep its invariant."""
    n = math.prod(shape)
    if n * like.element_size() > REUSED_BUFFER_BYTES:
        return None
    cache = getattr(_BUFFERS, "cache", None)
    if cache is None:
        cache = _BUFFERS.cache = {}
    full = (name, like.device, like.dtype, *key)
    buf = cache.get(full)
    if buf is None:
        buf = cache[full] = torch.zeros(REUSED_BUFFER_BYTES // like.element_size(), dtype=like.dtype,
                                        device=like.device)
    return buf[:n].view(shape)


class _KaldiBase(Frontend):
    """Kaldi frame extraction and per-frame processing shared by fbank and MFCC."""

    def _setup_frames(self, kind: str) -> None:
        o = self._options
        _check(o["sample_rate"] > 0, "sample_rate", "must be positive", kind)
        _check(o["frame_shift_ms"] > 0, "frame_shift_ms", "must be positive", kind)
        _check(o["window_type"] in KALDI_WINDOWS, "window_type",
               f"must be one of {', '.join(KALDI_WINDOWS)}, got {o['window_type']!r}", kind)
        _check(o["dither"] >= 0, "dither", "must be >= 0", kind)
        _check(0 <= o["preemphasis_coefficient"] <= 1, "preemphasis_coefficient", "must be in [0, 1]", kind)
        sr = o["sample_rate"]
        # Same float32 arithmetic as Kaldi (samp_freq * 0.001f * ms) so sizes agree.
        self.shift = int(np.float32(sr) * np.float32(0.001) * np.float32(o["frame_shift_ms"]))
        self.win = int(np.float32(sr) * np.float32(0.001) * np.float32(o["frame_length_ms"]))
        _check(self.win >= 2, "frame_length_ms", "is too short for the sample rate", kind)
        self.padded = 1 << (self.win - 1).bit_length() if o["round_to_power_of_two"] else self.win
        self.sample_rate = sr
        self.frame_shift = self.shift / sr
        self.register_buffer("window", kaldi_window(o["window_type"], self.win, o["blackman_coeff"]),
                             persistent=False)
        # The eager fast path's window carries the int16 scale, and its first value the (1-p) of
        # pre-emphasis at a frame's first sample.
        fast_window = self.window * 32768.0
        fast_window[0] *= 1 - o["preemphasis_coefficient"]
        self.register_buffer("fast_window", fast_window, persistent=False)
        self.register_buffer("framing", framing_kernel(self.win), persistent=False)
        self.register_buffer("dft", dft_matrix(self.win, self.padded, self.window), persistent=False)
        nyquist = 0.5 * sr
        low = o["low_freq"]
        high = o["high_freq"] if o["high_freq"] > 0 else nyquist + o["high_freq"]
        _check(0 <= low < nyquist, "low_freq", f"must be in [0, {nyquist}), got {low}", kind)
        _check(low < high <= nyquist, "high_freq",
               f"must be in (low_freq, {nyquist}] (or <= 0: offset from Nyquist), got {o['high_freq']}", kind)
        self.register_buffer("mel", kaldi_mel_banks(o["num_mel_bins"], self.padded, sr, low, high),
                             persistent=False)
        _check(bool((self.mel.sum(0) > 0).all()), "num_mel_bins",
               f"= {o['num_mel_bins']} gives empty mel bins for a {self.padded}-point FFT; use fewer bins", kind)
        # The eager fast path's mel product: the filters overlap only their neighbours, so blocks of
        # MEL_BAND_WIDTH filters each read only their own span of FFT bins (4-5x fewer products
        # than the dense matrix); the rows are doubled to read the squared real and imaginary
        # parts where the FFT wrote them, so they are never summed into a power spectrum.
        bands, self._mel_bands, offset = [], [], 0
        for a in range(0, o["num_mel_bins"], MEL_BAND_WIDTH):
            c = min(a + MEL_BAND_WIDTH, o["num_mel_bins"])
            rows = self.mel[:, a:c].ne(0).any(1).nonzero()[:, 0]
            lo, hi = int(rows[0]), int(rows[-1]) + 1
            bands.append(self.mel[lo:hi, a:c].repeat_interleave(2, dim=0).reshape(-1))
            self._mel_bands.append((a, c, 2 * lo, 2 * hi, offset))
            offset += bands[-1].numel()
        self.register_buffer("mel_bands", torch.cat(bands), persistent=False)

    def num_frames(self, num_samples: int) -> int:
        # frame_lengths in integer arithmetic, without tensors (called per utterance by extract).
        n = int(num_samples)
        if self._options["snip_edges"]:
            return 0 if n < self.win else 1 + (n - self.win) // self.shift
        return (n + self.shift // 2) // self.shift

    def frame_lengths(self, lengths: Tensor) -> Tensor:
        n = lengths.to(torch.long)
        if self._options["snip_edges"]:
            return torch.where(n < self.win, torch.zeros_like(n), 1 + torch.div(n - self.win, self.shift,
                                                                                 rounding_mode="floor"))
        return torch.div(n + self.shift // 2, self.shift, rounding_mode="floor")

    def _signal(self, x: Tensor, lengths: Tensor) -> Tensor:
        """The samples the frames are cut from: ``x`` itself with snip_edges, else ``x`` mirrored
        at each utterance's edges (Kaldi's rule: the edge sample repeated) so that frame i, centred
        on i*shift + shift/2, starts at i*shift."""
        if self._options["snip_edges"]:
            return x
        t = (x.shape[1] + self.shift // 2) // self.shift
        first = self.shift // 2 - self.win // 2
        pos = torch.arange(first, (t - 1) * self.shift + first + self.win, device=x.device)
        return torch.gather(x, 1, _reflect_index(pos, lengths, include_edge=True))

    def _frames(self, x: Tensor, lengths: Tensor) -> Tensor:
        """``(B, T, win)`` frames at Kaldi's ExtractWindow positions, with its edge reflection."""
        return frames_of(self._signal(x, lengths), self.framing, self.shift)

    def _fast_squared_spectrum(self, x: Tensor, lengths: Tensor, reuse: bool = False) -> tuple[Tensor, Tensor]:
        """The spectrum of the common case (eager, no dither, no energy) with fewer passes over
        the frames, which overlap 2.5 times. Pre-emphasis runs once over the whole signal, so frame
        samples 1.. are a strided view of it; Kaldi pre-emphasises each frame on its own, so only
        sample 0 differs: y[0] = (1-p) x[0], a factor folded into the window. The DC offset, removed
        before pre-emphasis in Kaldi, is (1-p) times the raw frame's mean after it. Frames are
        written, offset removed, straight into the zero-padded FFT buffer and windowed there (the
        window carries the int16 scale); the FFT's output is squared in place. Returns
        ``(squares (B, T, padded/2+1, 2): real and imaginary parts squared, buffer)``, the buffer
        being the frames' memory, free for the power spectrum. With ``reuse`` the frames go into
        this thread's kept buffer (``_reused``), so the buffer returned is not the caller's to keep."""
        o = self._options
        sig = self._signal(x, lengths)
        p = o["preemphasis_coefficient"]
        raw = sig.unfold(1, self.win, self.shift)  # strided views: nothing is copied
        pre = (torch.sub(sig[:, 1:], sig[:, :-1], alpha=p) if p else sig[:, 1:]).unfold(1, self.win - 1, self.shift)
        batch, t = raw.shape[:2]
        # Reused, the buffer's columns win: are still the zeros they were made with.
        buf = _reused("fft", (batch, t, self.padded), sig, (self.padded, self.win)) if reuse else None
        if buf is None:
            buf = torch.empty(batch, t, self.padded, dtype=sig.dtype, device=x.device)
            buf[..., self.win:].zero_()
        frames = buf[..., :self.win]
        if o["remove_dc_offset"]:
            total = raw.sum(dim=2)  # (1-p) times a raw frame's mean is subtracted from pre
            if p < 1:
                torch.sub(raw[..., 0], total, alpha=1 / self.win, out=frames[..., 0])  # x[0] - mean
            else:
                frames[..., 0].zero_()
            torch.sub(pre, total[..., None], alpha=(1 - p) / self.win, out=frames[..., 1:])
        else:
            frames[..., 1:] = pre
            frames[..., 0] = raw[..., 0]
        frames.mul_(self.fast_window)  # sample 0's (1-p) is in the window
        spec = torch.view_as_real(torch.fft.rfft(buf))
        return spec.mul_(spec), buf

    def _fast_power_spectrum(self, x: Tensor, lengths: Tensor) -> Tensor:
        """The power spectrum ``(B, T, padded/2+1)`` of the eager fast path, in the frames' memory.
        The same numbers as ``_power_spectrum`` to float32 rounding (tests)."""
        spec, buf = self._fast_squared_spectrum(x, lengths)
        batch, t, bins = spec.shape[:3]
        return torch.add(spec[..., 0], spec[..., 1], out=buf.view(-1)[:batch * t * bins].view(batch, t, bins))

    def _fast_mel_energies(self, x: Tensor, lengths: Tensor) -> Tensor:
        """``power_spectrum @ mel`` ``(B, T, num_mel_bins)`` of the eager fast path: each block of filters
        multiplies the squared real and imaginary parts of its span of bins (``mel_bands``)."""
        spec, _ = self._fast_squared_spectrum(x, lengths, reuse=True)
        batch, t = spec.shape[:2]
        squares = spec.view(batch * t, -1)
        out = squares.new_empty(batch * t, self.mel.shape[1])
        for a, c, lo, hi, band in self._mel_band_views():
            dst = out[:, a:c]
            torch.addmm(dst, squares[:, lo:hi], band, beta=0, out=dst)
        return out.view(batch, t, -1)

    def _mel_band_views(self) -> list:
        """``(first filter, end filter, first row, end row, block)`` of ``mel_bands``, the blocks as views
        made once per buffer (a module moved to another device or dtype gets new ones)."""
        key = (self.mel_bands.data_ptr(), self.mel_bands.device, self.mel_bands.dtype)
        if getattr(self, "_band_views_key", None) != key:
            self._band_views = [(a, c, lo, hi, self.mel_bands[off:off + (hi - lo) * (c - a)].view(hi - lo, c - a))
                                for a, c, lo, hi, off in self._mel_bands]
            self._band_views_key = key
        return self._band_views

    def _fast(self, x: Tensor, dither: bool, traced: bool) -> bool:
        """Whether the eager fast path applies: it writes into buffers (no gradients) and computes
        neither dither nor frame energies."""
        return not (dither or self._options["use_energy"] or traced or x.requires_grad)

    def _mel_energies(self, x: Tensor, lengths: Tensor, generator, dither: bool, traced: bool):
        """``(mel energies (B, T, num_mel_bins), raw log energy (B, T) or None)``."""
        if self._options.get("use_power", True) and self._fast(x, dither, traced):
            return self._fast_mel_energies(x, lengths), None
        power, log_energy = self._power_spectrum(x, lengths, generator, dither, traced)
        return power @ self.mel, log_energy

    def _power_spectrum(self, x: Tensor, lengths: Tensor, generator, dither: bool, traced: bool):
        """Returns ``(power or magnitude spectrum (B, T, padded/2+1), raw log energy (B, T) or None)``."""
        o = self._options
        if self._fast(x, dither, traced):
            power = self._fast_power_spectrum(x, lengths)
            return (power if o.get("use_power", True) else power.sqrt()), None
        frames = self._frames(x * 32768.0, lengths)
        if dither:
            frames = frames + o["dither"] * self._noise(frames.shape, frames, generator)
        if o["remove_dc_offset"]:
            frames = frames - frames.mean(dim=2, keepdim=True)
        log_energy = None
        if o["use_energy"] and o["raw_energy"]:
            log_energy = frames.pow(2).sum(2).clamp_min(FLT_EPSILON).log()
        p = o["preemphasis_coefficient"]
        if p != 0:
            # x[i] -= p * x[i-1], and x[0] -= p * x[0] (Kaldi's edge rule).
            frames = torch.cat([frames[..., :1] * (1 - p), frames[..., 1:] - p * frames[..., :-1]], dim=2)
        if o["use_energy"] and not o["raw_energy"]:
            log_energy = (frames * self.window).pow(2).sum(2).clamp_min(FLT_EPSILON).log()
        power = power_spectrum(frames, self.dft, self.window, self.padded)
        if not o.get("use_power", True):
            power = power.sqrt()
        if log_energy is not None and o["energy_floor"] > 0:
            log_energy = log_energy.clamp_min(math.log(o["energy_floor"]))
        return power, log_energy


@FRONTENDS.register("fbank")
class KaldiFbank(_KaldiBase):
    """Kaldi ``compute-fbank-feats``: log mel filterbank energies (plus log energy first if ``use_energy``)."""

    type = "fbank"

    def __init__(self, sample_rate: int = 16000, num_mel_bins: int = 80, frame_length_ms: float = 25.0,
                 frame_shift_ms: float = 10.0, dither: float = 0.0, preemphasis_coefficient: float = 0.97,
                 remove_dc_offset: bool = True, window_type: str = "povey", round_to_power_of_two: bool = True,
                 blackman_coeff: float = 0.42, snip_edges: bool = True, low_freq: float = 20.0,
                 high_freq: float = 0.0, use_energy: bool = False, raw_energy: bool = True,
                 energy_floor: float = 0.0, use_log_fbank: bool = True, use_power: bool = True,
                 resample: bool = False, seed: int = 0):
        opts = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        super().__init__(_plain(opts))
        _check(num_mel_bins > 0, "num_mel_bins", "must be positive", self.type)
        self._setup_frames(self.type)
        self.dim = num_mel_bins + (1 if use_energy else 0)

    def compute(self, x, lengths, generator, dither):
        traced = exporting()
        mel, log_energy = self._mel_energies(x, lengths, generator, dither, traced)
        if self._options["use_log_fbank"]:
            mel = mel.clamp_min(FLT_EPSILON).log() if traced or mel.requires_grad else mel.clamp_min_(FLT_EPSILON).log_()
        if log_energy is not None:
            mel = torch.cat([log_energy[..., None], mel], dim=2)
        return mel


@FRONTENDS.register("mfcc")
class KaldiMfcc(_KaldiBase):
    """Kaldi ``compute-mfcc-feats``: DCT of log mel energies, liftered; c0 replaced by log energy if ``use_energy``."""

    type = "mfcc"

    def __init__(self, sample_rate: int = 16000, num_mel_bins: int = 23, num_ceps: int = 13,
                 cepstral_lifter: float = 22.0, frame_length_ms: float = 25.0, frame_shift_ms: float = 10.0,
                 dither: float = 0.0, preemphasis_coefficient: float = 0.97, remove_dc_offset: bool = True,
                 window_type: str = "povey", round_to_power_of_two: bool = True, blackman_coeff: float = 0.42,
                 snip_edges: bool = True, low_freq: float = 20.0, high_freq: float = 0.0,
                 use_energy: bool = True, raw_energy: bool = True, energy_floor: float = 0.0,
                 resample: bool = False, seed: int = 0):
        opts = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        super().__init__(_plain(opts))
        _check(num_mel_bins > 0, "num_mel_bins", "must be positive", self.type)
        _check(0 < num_ceps <= num_mel_bins, "num_ceps", f"must be in [1, num_mel_bins={num_mel_bins}]", self.type)
        self._setup_frames(self.type)
        self.dim = num_ceps
        # Kaldi's ComputeDctMatrix: orthonormal DCT-II rows, the first num_ceps kept.
        n = np.arange(num_mel_bins)
        k = np.arange(num_ceps)[:, None]
        dct = np.sqrt(2.0 / num_mel_bins) * np.cos(np.pi / num_mel_bins * (n + 0.5) * k)
        dct[0] = np.sqrt(1.0 / num_mel_bins)
        if cepstral_lifter != 0:
            lifter = 1.0 + 0.5 * cepstral_lifter * np.sin(np.pi * np.arange(num_ceps) / cepstral_lifter)
            dct = dct * lifter[:, None]
        # mel matrix and DCT fused: power (T, F) -> log mel (T, B) -> ceps (T, C)
        self.register_buffer("dct", torch.from_numpy(dct.T.astype(np.float32)), persistent=False)

    def compute(self, x, lengths, generator, dither):
        traced = exporting()
        log_mel, log_energy = self._mel_energies(x, lengths, generator, dither, traced)
        log_mel = (log_mel.clamp_min(FLT_EPSILON).log() if traced or log_mel.requires_grad
                   else log_mel.clamp_min_(FLT_EPSILON).log_())
        ceps = log_mel @ self.dct
        if log_energy is not None:
            ceps = torch.cat([log_energy[..., None], ceps[..., 1:]], dim=2)
        return ceps


# --------------------------------------------------------------------------- NeMo


def slaney_mel_filters(sample_rate: int, n_fft: int, num_bins: int, low_freq: float,
                       high_freq: float) -> torch.Tensor:
    """librosa.filters.mel(htk=False, norm='slaney') as a ``(n_fft/2 + 1, num_bins)`` matrix."""
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0

    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f / f_sp)

    def mel_to_hz(m):
        return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)

    fft_freqs = np.linspace(0, sample_rate / 2, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(low_freq), hz_to_mel(high_freq), num_bins + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]  # slaney: constant energy per band
    return torch.from_numpy(weights.T.astype(np.float32))


@FRONTENDS.register("logmel")
class LogMel(Frontend):
    """OpenSeq2Seq/NeMo log-mel spectrogram (AudioToMelSpectrogramPreprocessor without normalisation).

    Preemphasis over the whole utterance (first sample kept), centred STFT
    (``n_fft // 2`` padding each side), symmetric Hann window, power spectrum,
    librosa Slaney mel filters, ``log(mel + log_guard)``. Per-feature
    normalisation is left to CMVN (``utterance_cmvn``).
    Frames: ``1 + (N + 2 * (n_fft // 2) - n_fft) // hop`` (= ``N // hop + 1`` for even n_fft).
    """

    type = "logmel"

    def __init__(self, sample_rate: int = 16000, num_mel_bins: int = 64, window_size: float = 0.02,
                 window_stride: float = 0.01, n_fft: int | None = None, window: str = "hann",
                 preemphasis: float = 0.97, low_freq: float = 0.0, high_freq: float | None = None,
                 log_guard: float = 2.0 ** -24, mag_power: float = 2.0, pad_mode: str = "constant",
                 dither: float = 0.0, resample: bool = False, seed: int = 0):
        opts = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        kind = self.type
        _check(sample_rate > 0, "sample_rate", "must be positive", kind)
        _check(num_mel_bins > 0, "num_mel_bins", "must be positive", kind)
        win = int(window_size * sample_rate)
        hop = int(window_stride * sample_rate)
        _check(win >= 2, "window_size", "is too short for the sample rate", kind)
        _check(hop >= 1, "window_stride", "is too short for the sample rate", kind)
        n_fft = n_fft or 1 << (win - 1).bit_length()
        _check(n_fft >= win, "n_fft", f"must be >= the window length ({win} samples)", kind)
        _check(window in ("hann", "hamming", "rectangular"), "window", "must be hann, hamming or rectangular", kind)
        _check(pad_mode in ("constant", "reflect"), "pad_mode", "must be 'constant' or 'reflect'", kind)
        _check(log_guard > 0, "log_guard", "must be positive", kind)
        _check(dither >= 0, "dither", "must be >= 0", kind)
        high = sample_rate / 2 if high_freq is None else high_freq
        _check(0 <= low_freq < high <= sample_rate / 2, "high_freq",
               f"must satisfy 0 <= low_freq < high_freq <= {sample_rate / 2}", kind)
        opts.update(n_fft=n_fft, high_freq=float(high))
        super().__init__(_plain(opts))
        self.win, self.hop, self.n_fft = win, hop, n_fft
        self.sample_rate = sample_rate
        self.frame_shift = hop / sample_rate
        self.dim = num_mel_bins
        w = symmetric_window(window, win)
        self.register_buffer("window", w.float(), persistent=False)
        self.register_buffer("framing", framing_kernel(win), persistent=False)
        self.register_buffer("dft", dft_matrix(win, n_fft, w.float()), persistent=False)
        self.register_buffer("mel", slaney_mel_filters(sample_rate, n_fft, num_mel_bins, low_freq, high),
                             persistent=False)

    def frame_lengths(self, lengths: Tensor) -> Tensor:
        n = lengths.to(torch.long)
        pad = self.n_fft // 2
        t = 1 + torch.div(n + 2 * pad - self.n_fft, self.hop, rounding_mode="floor")
        return torch.where(n > 0, t.clamp_min(0), torch.zeros_like(n))

    def compute(self, x, lengths, generator, dither):
        o = self._options
        pad = self.n_fft // 2
        t = 1 + (x.shape[1] + 2 * pad - self.n_fft) // self.hop
        if dither:
            x = x + o["dither"] * self._noise(x.shape, x, generator)
        p = o["preemphasis"]
        if p:
            x = torch.cat([x[:, :1], x[:, 1:] - p * x[:, :-1]], dim=1)
        # Each utterance ends at its own length: what follows is the STFT's zero padding.
        x = _mask_samples(x, lengths)
        if o["pad_mode"] == "reflect":
            # Reflection needs more samples than the padding; shorter utterances get zeros (as alone).
            pos = torch.arange(-pad, x.shape[1] + pad, device=x.device)
            idx = _reflect_index(pos, lengths, include_edge=False)
            reflectable = (lengths > pad)[:, None].to(x.device)
            inside = (pos[None, :] >= 0) & (pos[None, :] < lengths[:, None].to(x.device))
            keep = (inside | reflectable).to(x.dtype)
            x = torch.gather(x, 1, idx) * keep
        else:
            x = torch.nn.functional.pad(x, (pad, pad))
        # torch.stft centres a shorter window inside n_fft; since only the magnitude is
        # kept, framing just the window's span and zero-padding the FFT at the end gives
        # the same spectrum with less work.
        offset = (self.n_fft - self.win) // 2
        power = power_spectrum(frames_of(x[:, offset:], self.framing, self.hop)[:, :t], self.dft, self.window,
                               self.n_fft)
        if o["mag_power"] != 2.0:
            power = power.pow(o["mag_power"] / 2)
        return (power @ self.mel + o["log_guard"]).log()


@FRONTENDS.register("spectrogram")
class Spectrogram(Frontend):
    """Log power spectrogram, OpenSeq2Seq's ``input_type: spectrogram`` (DeepSpeech2's input).

    As OpenSeq2Seq computes it through python_speech_features: frames of ``window_size``
    every ``window_stride`` with a symmetric Hann window (numpy's ``hanning``), the last
    frame zero-padded (``1 + ceil((N - win) / hop)`` frames, 1 for N <= win), power
    ``|rfft(frame, n_fft)|^2 / n_fft`` with ``n_fft`` = the window length, ``10 log10``
    floored at ``floor``, the utterance's maximum subtracted (``normalize_max``,
    python_speech_features' ``norm=1``), and the first ``num_bins`` bins kept (160 of 161
    for 20 ms at 16 kHz). Mean/variance normalisation is left to CMVN.
    """

    type = "spectrogram"

    def __init__(self, sample_rate: int = 16000, num_bins: int = 160, window_size: float = 0.02,
                 window_stride: float = 0.01, n_fft: int | None = None, window: str = "hann",
                 preemphasis: float = 0.0, floor: float = 1e-30, normalize_max: bool = True,
                 dither: float = 0.0, resample: bool = False, seed: int = 0):
        opts = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        kind = self.type
        _check(sample_rate > 0, "sample_rate", "must be positive", kind)
        win = int(round(window_size * sample_rate))
        hop = int(round(window_stride * sample_rate))
        _check(win >= 2, "window_size", "is too short for the sample rate", kind)
        _check(hop >= 1, "window_stride", "is too short for the sample rate", kind)
        n_fft = n_fft or win
        _check(n_fft >= win, "n_fft", f"must be >= the window length ({win} samples)", kind)
        _check(0 < num_bins <= n_fft // 2 + 1, "num_bins", f"must be between 1 and n_fft / 2 + 1 = {n_fft // 2 + 1}",
               kind)
        _check(window in ("hann", "hamming", "rectangular"), "window", "must be hann, hamming or rectangular", kind)
        _check(floor > 0, "floor", "must be positive", kind)
        _check(dither >= 0, "dither", "must be >= 0", kind)
        _check(0 <= preemphasis < 1, "preemphasis", "must be in [0, 1)", kind)
        opts.update(n_fft=n_fft)
        super().__init__(_plain(opts))
        self.win, self.hop, self.n_fft = win, hop, n_fft
        self.sample_rate = sample_rate
        self.frame_shift = hop / sample_rate
        self.dim = num_bins
        w = symmetric_window(window, win)
        self.register_buffer("window", w.float(), persistent=False)
        self.register_buffer("framing", framing_kernel(win), persistent=False)
        # Only the kept bins are computed; 1 / n_fft folded into the DFT as 1 / sqrt(n_fft).
        dft = dft_matrix(win, n_fft, w.float()) / math.sqrt(n_fft)
        half = n_fft // 2 + 1
        self.register_buffer("dft", torch.cat([dft[:, :num_bins], dft[:, half:half + num_bins]], dim=1),
                             persistent=False)

    def _frames(self, n: Tensor) -> Tensor:
        t = 1 + torch.div(n - self.win + self.hop - 1, self.hop, rounding_mode="floor")
        return torch.where(n > 0, t.clamp_min(1), torch.zeros_like(n))

    def frame_lengths(self, lengths: Tensor) -> Tensor:
        return self._frames(lengths.to(torch.long))

    def compute(self, x, lengths, generator, dither):
        o = self._options
        n = x.shape[1]
        t = max(1, 1 + (n - self.win + self.hop - 1) // self.hop)
        if dither:
            x = x + o["dither"] * self._noise(x.shape, x, generator)
        p = o["preemphasis"]
        if p:
            x = torch.cat([x[:, :1], x[:, 1:] - p * x[:, :-1]], dim=1)
        # Zeros past each utterance's end: its last frame is zero-padded as when alone.
        x = _mask_samples(x, lengths)
        x = torch.nn.functional.pad(x, (0, (t - 1) * self.hop + self.win - n))
        power = power_spectrum(frames_of(x, self.framing, self.hop)[:, :t], self.dft, self.window, self.n_fft,
                               1.0 / self.n_fft)
        logp = 10.0 * torch.log10(power.clamp_min(o["floor"]))
        if o["normalize_max"]:
            valid = torch.arange(t, device=x.device)[None, :] < self.frame_lengths(lengths).to(x.device)[:, None]
            peak = logp.masked_fill(~valid[:, :, None], float("-inf")).amax(dim=(1, 2), keepdim=True)
            logp = logp - torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))  # empty: no frames
        return logp


def symmetric_window(window: str, win: int) -> Tensor:
    """A symmetric (numpy/librosa-style) hann or hamming window, or a rectangular one, in float64."""
    if window == "hann":
        return torch.hann_window(win, periodic=False, dtype=torch.float64)
    if window == "hamming":
        return torch.hamming_window(win, periodic=False, dtype=torch.float64)
    return torch.ones(win, dtype=torch.float64)


def _plain(opts: dict) -> dict:
    """Config values as plain YAML-friendly Python scalars."""
    out = {}
    for k, v in opts.items():
        if isinstance(v, (np.floating, np.integer)):
            v = v.item()
        out[k] = v
    return out
