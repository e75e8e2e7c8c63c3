"""Long recordings: VAD segmentation in bounded memory, the fixed-window fallback, CTC alignment and word times."""

from __future__ import annotations

import math

import numpy as np
import pytest

from s2s.data.tokens import character_vocabulary
from s2s.decode.ctc import collapse, forced_align, greedy_search, word_timings
from s2s.decode.formats import Transcript, cues, render
from s2s.decode.segment import Segmenter

SR = 16000


def voiced(seconds: float, f0: float = 140.0, seed: int = 0) -> np.ndarray:
    """A speech-like harmonic signal with a syllable-rate envelope (WebRTC's VAD takes it for speech)."""
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    x = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 12))
    env = 0.6 + 0.4 * np.sin(2 * np.pi * 4.0 * t)
    return (0.2 * x * env / 3).astype(np.float32)


def blocks(x: np.ndarray, n: int = SR * 10):
    for i in range(0, len(x), n):
        yield x[i:i + n]


def test_short_audio_is_one_segment_as_it_is():
    x = voiced(4.0)
    segs = list(Segmenter(SR, max_seconds=30).segments(blocks(x)))
    assert len(segs) == 1 and segs[0].start == 0.0 and np.array_equal(segs[0].audio, x)
    assert segs[0].keep_from == -math.inf and segs[0].keep_to == math.inf


def test_long_audio_is_cut_in_its_pauses():
    pieces, spans, pos = [], [], 0.0
    rng = np.random.default_rng(1)
    for i in range(12):
        speech = voiced(rng.uniform(2.0, 5.0), seed=i)
        pause = np.zeros(int(rng.uniform(0.6, 1.5) * SR), np.float32)
        spans.append((pos, pos + len(speech) / SR))
        pieces += [speech, pause]
        pos += (len(speech) + len(pause)) / SR
    x = np.concatenate(pieces)
    segs = list(Segmenter(SR, max_seconds=20, pad=0.5).segments(blocks(x, SR * 3)))
    assert len(segs) == len(spans)
    for k, (seg, (a, b)) in enumerate(zip(segs, spans)):
        end = seg.start + len(seg.audio) / SR
        # the speech whole, with up to 0.5 s around it, never reaching into a neighbour's speech
        assert a - 0.7 <= seg.start <= a and b <= end <= b + 0.7  # (+ the VAD's hangover)
        assert (k == 0 or seg.start > spans[k - 1][1]) and (k + 1 == len(spans) or end < spans[k + 1][0])
        start = int(round(seg.start * SR))
        np.testing.assert_array_equal(seg.audio, x[start: start + len(seg.audio)])


def test_speech_without_pauses_is_cut_into_overlapping_windows_that_tile_the_time():
    x = voiced(75.0)
    segs = list(Segmenter(SR, max_seconds=20, overlap=2).segments(blocks(x)))
    assert len(segs) >= 4 and max(len(s.audio) for s in segs) <= 20 * SR
    assert segs[0].keep_from == -math.inf and segs[-1].keep_to == math.inf
    for prev, nxt in zip(segs, segs[1:]):
        assert prev.keep_to == nxt.keep_from  # each moment belongs to exactly one window
        assert nxt.start < prev.start + len(prev.audio) / SR  # the windows overlap
        assert nxt.start < prev.keep_to < prev.start + len(prev.audio) / SR
    assert segs[-1].start + len(segs[-1].audio) / SR == pytest.approx(75.0, abs=0.04)


def test_silence_gives_no_segment_and_memory_stays_bounded():
    seg = Segmenter(SR, max_seconds=20)
    hour = (np.zeros(SR * 10, np.float32) for _ in range(360))  # an hour of digital silence, 10 s at a time
    assert list(seg.segments(hour)) == []


# ---------------------------------------------------------------------------- CTC alignment and word times
VOCAB = character_vocabulary("abcdehlortw")


def peaky(tokens_per_frame: list, v: int = len(VOCAB)) -> np.ndarray:
    lp = np.full((len(tokens_per_frame), v), np.log(1e-4), dtype=np.float32)
    for t, k in enumerate(tokens_per_frame):
        lp[t, k] = np.log(0.9)
    return lp - np.log(np.exp(lp).sum(1, keepdims=True))


def ids(text: str) -> list[int]:
    return VOCAB.encode(text)


def test_forced_alignment_collapses_to_the_tokens_and_handles_repeats():
    b = VOCAB.blank_id
    h, e, ll, o = ids("helo")
    frames = [b, h, h, e, b, ll, b, ll, o, o, b]
    lp = peaky(frames)
    tokens = greedy_search(lp, blank=b)[0]
    assert tokens == ids("hello")
    path = forced_align(lp, tokens, b)
    assert collapse(path, b) == tokens and path.tolist() == frames
    with pytest.raises(ValueError, match="need at least"):
        forced_align(lp[:3], tokens, b)


def test_word_times_follow_the_frames_and_confidence_the_posteriors():
    b, sp = VOCAB.blank_id, VOCAB.space_id
    h, e, ll, o, w, r, d = ids("helowrd")
    frames = [b] * 5 + [h, e, ll, b, ll, o] + [b, sp, b, b] + [w, o, r, ll, d] + [b] * 4
    lp = peaky(frames)
    words = word_timings(lp, greedy_search(lp)[0], VOCAB, frame_shift=0.04, offset=10.0)
    assert [w_.word for w_ in words] == ["hello", "world"]
    assert words[0].start == pytest.approx(10.0 + 5 * 0.04) and words[0].end == pytest.approx(10.0 + 11 * 0.04)
    assert words[1].start == pytest.approx(10.0 + 15 * 0.04) and words[1].end == pytest.approx(10.0 + 20 * 0.04)
    assert 0.99 < words[0].conf <= 1.0
    unsure = lp.copy()
    unsure[15, w], unsure[15, b] = np.log(0.3), np.log(0.6)
    assert word_timings(unsure, greedy_search(lp)[0], VOCAB, 0.04)[1].conf < words[1].conf


def test_formats_render_words_with_their_times():
    from s2s.decode.ctc import Word

    words = [Word("hello", 0.5, 0.9, 0.9), Word("world", 1.0, 1.4, 0.8), Word("again", 3.0, 3.5, 0.7)]
    t = Transcript("a.wav", "hello world again", words, duration=4.0)
    assert render(t, "text") == "hello world again\n"
    assert '"words": [{"word": "hello", "start": 0.5, "end": 0.9, "conf": 0.9}' in render(t, "json")
    assert render(t, "ctm", key="a").splitlines()[1] == "a 1 1.000 0.400 world 0.800"
    assert cues(words) == [(0.5, 1.4, "hello world"), (3.0, 3.5, "again")]  # a pause starts a new cue
    assert render(t, "srt").startswith("1\n00:00:00,500 --> 00:00:01,400\nhello world\n\n2\n00:00:03,000")
    assert render(t, "vtt").startswith("WEBVTT\n\n00:00:00.500 --> 00:00:01.400\nhello world\n")
