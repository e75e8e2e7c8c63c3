"""Cut a long recording into pieces a model decodes well, reading it as a stream.

Audio up to ``max_seconds`` long is one segment. Longer audio is cut at pauses found by
a voice activity detector (WebRTC's, from the ``webrtcvad-wheels`` package: 30 ms
frames, no model download): a pause of at least ``min_pause`` seconds ends a segment,
which keeps up to ``pad_before`` seconds before its speech and ``pad`` after it (WebRTC's
VAD hears voicing and misses much of a final unvoiced consonant, so the margin after is
generous; neither crosses into the neighbouring segment). Speech that runs on for
``max_seconds`` without such a pause is cut into fixed windows that overlap by
``overlap`` seconds; each window keeps the words whose middle falls in its own half of
the overlap (``keep_from``/``keep_to``), so merging windows neither drops nor doubles
words. Only the current segment is held in memory, so peak memory does not grow with
the recording's length. Times are in seconds from the start of the recording.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FRAME_S = 0.03  # WebRTC VAD frame
VAD_RATES = (8000, 16000, 32000, 48000)


@dataclass
class Segment:
    start: float          # seconds from the start of the recording
    audio: np.ndarray     # float32 mono at the model's rate
    keep_from: float = -math.inf
    keep_to: float = math.inf


class Segmenter:
    def __init__(self, sample_rate: int, max_seconds: float = 30.0, overlap: float = 2.0, min_pause: float = 0.3,
                 pad: float = 0.5, pad_before: float = 0.25, vad_level: int = 2):
        if max_seconds <= 2 * overlap:
            raise ValueError(f"max segment {max_seconds} s must exceed twice the overlap {overlap} s")
        self.sr = int(sample_rate)
        self.frame = int(FRAME_S * self.sr)
        # Windows and steps in whole VAD frames, so frame decisions stay aligned with the audio.
        self.max_len = int(max_seconds / FRAME_S) * self.frame
        self.overlap = int(overlap / FRAME_S) * self.frame
        self.min_pause_frames = max(1, int(round(min_pause / FRAME_S)))
        self.pad = int(pad * self.sr)
        self.pad_before = int(pad_before * self.sr)
        self.vad = None
        if self.sr in VAD_RATES:
            import webrtcvad

            self.vad = webrtcvad.Vad(vad_level)

    def segments(self, blocks):
        """Yield the ``Segment``s of a stream of float32 blocks."""
        buf = np.zeros(0, dtype=np.float32)
        it = iter(blocks)
        for block in it:  # up to max_len + one block: short audio is one segment, as it is
            buf = np.concatenate([buf, block])
            if len(buf) > self.max_len:
                break
        else:
            if len(buf):
                yield Segment(0.0, buf)
            return
        yield from self._long(buf, it)

    # -- long audio -----------------------------------------------------------------------
    def _speech_frames(self, x: np.ndarray) -> np.ndarray:
        """Speech (True) per whole frame of ``x``."""
        n = len(x) // self.frame
        if self.vad is None:  # a rate WebRTC's VAD does not take: treat everything as speech
            return np.ones(n, dtype=bool)
        pcm = (np.clip(x[: n * self.frame], -1.0, 1.0) * 32767).astype("<i2")
        return np.array([self.vad.is_speech(pcm[i * self.frame:(i + 1) * self.frame].tobytes(), self.sr)
                         for i in range(n)], dtype=bool)

    def _long(self, buf: np.ndarray, rest):
        start = 0            # sample index of buf[0] in the recording
        keep_from = -math.inf
        flags = np.zeros(0, dtype=bool)  # VAD decisions of buf's whole frames
        while True:
            nf = len(buf) // self.frame
            if len(flags) < nf:
                flags = np.concatenate([flags, self._speech_frames(buf[len(flags) * self.frame: nf * self.frame])])
            cut = self._pause_cut(flags)
            if cut is not None:
                seg = self._trim(buf[:cut], flags[: cut // self.frame], start, keep_from)
                if seg is not None:
                    yield seg
                buf, flags, start, keep_from = buf[cut:], flags[cut // self.frame:], start + cut, -math.inf
                continue
            if len(buf) >= self.max_len:
                # Speech without a pause: a fixed window, overlapping the next one.
                keep_to = (start + self.max_len - self.overlap / 2) / self.sr
                if flags[: self.max_len // self.frame].any():
                    yield Segment(start / self.sr, buf[: self.max_len].copy(), keep_from, keep_to)
                step = self.max_len - self.overlap
                buf, flags, start, keep_from = buf[step:], flags[step // self.frame:], start + step, keep_to
                continue
            block = next(rest, None)
            if block is None:
                break
            buf = np.concatenate([buf, block])
        seg = self._trim(buf, flags, start, keep_from, final=True)
        if seg is not None:
            yield seg

    def _pause_cut(self, flags: np.ndarray) -> int | None:
        """A sample index in the middle of the first pause of at least ``min_pause`` after speech, once
        the pause has ended (or has lasted twice ``pad``: then ``pad`` after its start)."""
        speech = np.flatnonzero(flags)
        if len(speech) == 0:
            return None
        pad_frames = max(1, self.pad // self.frame)
        run = 0
        for i in range(int(speech[0]) + 1, len(flags)):
            if flags[i]:
                if run >= self.min_pause_frames:
                    return (i - run + run // 2) * self.frame
                run = 0
            else:
                run += 1
                if run >= max(2 * pad_frames, self.min_pause_frames):
                    return (i - run + 1 + pad_frames) * self.frame
        return None

    def _trim(self, x: np.ndarray, flags: np.ndarray, start: int, keep_from: float, final: bool = False):
        """The speech of ``x`` with ``pad`` around it (to the end for the last piece), or None without speech."""
        speech = np.flatnonzero(flags)
        if len(speech) == 0:
            return None
        a = max(0, int(speech[0]) * self.frame - self.pad_before)
        b = len(x) if final else min(len(x), (int(speech[-1]) + 1) * self.frame + self.pad)
        return Segment((start + a) / self.sr, x[a:b].copy(), keep_from)
