"""Transcribe audio with a trained or exported model: what ``s2s-transcribe`` runs.

Inputs (``s2s.data.inputs``) are read as streams (``s2s.data.audio.AudioStream``) and
cut into segments (``s2s.decode.segment``: long recordings at pauses, bounded memory);
segments of all inputs are decoded in batches of about ``batch_seconds`` of audio
(greedy or beam search with an n-gram); word times come from the CTC alignment of the
decoded tokens (``s2s.decode.ctc``). Transcripts come out in input order as soon as
each input is complete. An input that cannot be read or is too short to decode gets
one line on stderr and the others go on.

The engine is the checkpoint (``torch``), or an ``s2s-export`` file (``onnx``, run by
onnxruntime without importing PyTorch; ``torchscript``).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from s2s.data.audio import AudioStream
from s2s.data.inputs import AudioInput, expand_inputs
from s2s.decode.ctc import greedy_search, refine_word_times, word_timings
from s2s.decode.formats import EXTENSIONS, TIMED, Transcript, render
from s2s.decode.segment import Segment, Segmenter
from s2s.errors import S2SError

ENGINES = ("auto", "torch", "torchscript", "onnx")


def load_engine(model: str, engine: str = "auto", device: str = "cpu", threads: int = 0):
    """A recognizer for ``model``: a checkpoint (torch) or an exported file (onnx, torchscript)."""
    if engine == "auto":
        suffix = Path(model).suffix.lower()
        engine = {".onnx": "onnx", ".ts": "torchscript", ".jit": "torchscript"}.get(suffix, "torch")
    if engine == "onnx":
        from s2s.decode.runtime import OnnxRecognizer

        return OnnxRecognizer(model, threads)
    if engine == "torchscript":
        from s2s.decode.runtime import TorchScriptRecognizer

        return TorchScriptRecognizer(model, threads)
    import torch

    from s2s.decode.inference import Recognizer

    if threads > 0:
        torch.set_num_threads(threads)
    rec = Recognizer.load(model, device)
    rec.require_ctc()
    if rec.sample_rate is None:
        raise S2SError(f"{model}: the model has no front end (trained on features of unknown origin); "
                       f"it cannot read audio")
    return rec


class Decoder:
    """Greedy or beam search (with the LM and weights of the options, else of the model's decoding
    settings) over one segment's log-probabilities: ``(text, tokens, words or None)``."""

    def __init__(self, rec, decoder: str | None = None, beam_args=None):
        settings = dict(rec.decoding or {})
        given = {k: v for k, v in vars(beam_args or object()).items() if v is not None} if beam_args else {}
        self.kind = decoder or settings.get("decoder") or "greedy"
        self.vocab = rec.vocab
        self.beam = None
        if self.kind == "beam":
            from s2s.decode.beam import BEAM_DEFAULTS, CtcBeamDecoder

            opts = {**BEAM_DEFAULTS, **{k: v for k, v in settings.items() if k in BEAM_DEFAULTS},
                    "lm": settings.get("lm"), "lexicon": settings.get("lexicon")}
            explicit = {k: given[k] for k in (*BEAM_DEFAULTS, "lm", "lexicon") if k in given}
            opts.update(explicit)
            opts["nbest"] = 1
            self.beam = CtcBeamDecoder(rec.vocab, **opts)

    def __call__(self, logp: np.ndarray):
        if self.beam is None:
            tokens = greedy_search(logp, blank=self.vocab.blank_id)[0]
            return self.vocab.decode(tokens), tokens, None
        res = self.beam(logp)
        if not res:
            return "", [], []
        return res[0].text, res[0].tokens, res[0].words


@dataclass
class _Pending:
    item: AudioInput
    transcript: Transcript
    segments: int = 0          # read so far
    results: list = field(default_factory=list)  # (segment start, text, words or None)
    done_reading: bool = False

    @property
    def complete(self) -> bool:
        return self.transcript.error is not None or (self.done_reading and len(self.results) == self.segments)


class Transcriber:
    """Streams inputs through segmentation, batched decoding and word timing."""

    def __init__(self, rec, decoder: Decoder, timestamps: bool = False, batch_seconds: float = 60.0,
                 max_segment: float = 30.0, log=None):
        self.rec = rec
        self.decoder = decoder
        self.timestamps = timestamps
        self.batch_seconds = batch_seconds
        self.segmenter = Segmenter(rec.sample_rate, max_seconds=max_segment)
        self.log = log or (lambda msg: print(msg, file=sys.stderr))

    def run(self, items: list[AudioInput]):
        """Yield one Transcript per item, in order."""
        queue: list[_Pending] = []
        batch: list[tuple[_Pending, Segment]] = []
        batch_len = 0.0
        for item in items:
            p = _Pending(item, Transcript(item.name))
            queue.append(p)
            read = [0]

            def counted(blocks):
                for b in blocks:
                    read[0] += len(b)
                    yield b

            try:
                stream = AudioStream(item.spec, self.rec.sample_rate, item.segment, name=item.name)
                for seg in self.segmenter.segments(counted(stream.blocks())):
                    if self.rec.too_short(seg.audio):
                        continue
                    p.segments += 1
                    batch.append((p, seg))
                    batch_len += len(seg.audio) / self.rec.sample_rate
                    if batch_len >= self.batch_seconds:
                        self._decode(batch)
                        batch, batch_len = [], 0.0
                        yield from self._ready(queue)
                p.transcript.notes = stream.notes
                p.transcript.duration = read[0] / self.rec.sample_rate
                if p.segments == 0:
                    p.transcript.error = self._empty_reason(read[0])
            except S2SError as e:
                p.transcript.error = str(e).removeprefix(f"{item.name}: ")
                batch = [(q, s) for q, s in batch if q is not p]
            p.done_reading = True
            yield from self._ready(queue)
        if batch:
            self._decode(batch)
        yield from self._ready(queue)

    def _empty_reason(self, samples: int) -> str | None:
        """Why an input gave nothing to decode (None: a long recording without speech, an empty transcript)."""
        if samples == 0:
            return "contains no audio"
        if samples < self.rec.min_samples:
            sr = self.rec.sample_rate
            return (f"too short to transcribe: {samples / sr:.3f} s (the model needs at least "
                    f"{self.rec.min_samples / sr:.3f} s)")
        return None

    def _decode(self, batch: list) -> None:
        logps = self.rec.logprobs([seg.audio for _, seg in batch], batch_seconds=self.batch_seconds)
        for (p, seg), logp in zip(batch, logps):
            text, tokens, beam_words = self.decoder(logp)
            words = None
            windowed = math.isfinite(seg.keep_from) or math.isfinite(seg.keep_to)
            if self.timestamps or windowed:
                words = word_timings(logp, tokens, self.decoder.vocab, self.rec.frame_shift, offset=seg.start)
                words = refine_word_times(words, seg.audio, self.rec.sample_rate, offset=seg.start)
                if beam_words is not None and len(beam_words) == len(words):
                    for w, b in zip(words, beam_words):
                        w.word = b
                words = [w for w in words if seg.keep_from <= (w.start + w.end) / 2 < seg.keep_to]
                text = " ".join(w.word for w in words)
            p.results.append((seg.start, text, words))

    def _ready(self, queue: list[_Pending]):
        while queue and queue[0].complete:
            p = queue.pop(0)
            t = p.transcript
            if t.error is None:
                parts = sorted(p.results, key=lambda r: r[0])
                t.text = " ".join(r[1] for r in parts if r[1])
                if self.timestamps:
                    t.words = [w for r in parts for w in (r[2] or [])]
            yield t


def output_names(items: list[AudioInput]) -> dict[str, str]:
    """A file name (without extension) per input for --out-dir: the file's stem, or the whole path with
    separators replaced when stems collide; utterance ids as they are."""
    stems = {it.name: (Path(it.name).stem if it.name == it.spec else it.name) for it in items}
    counts: dict[str, int] = {}
    for s in stems.values():
        counts[s] = counts.get(s, 0) + 1
    return {n: (s if counts[s] == 1 else n.strip("/").replace("/", "__")) for n, s in stems.items()}


def transcribe(model: str, inputs: list[str], engine: str = "auto", decoder: str | None = None, beam_args=None,
               fmt: str = "text", timestamps: bool = False, out_dir: str | None = None, device: str = "cpu",
               batch_seconds: float = 60.0, max_segment: float = 30.0, threads: int = 0, out=None) -> int:
    """Transcribe ``inputs`` and write the results (stdout, or one file per input in ``out_dir``).

    Returns the number of transcribed inputs; S2SError when any input failed (each one's reason is
    printed on stderr as it happens), after the others are done.
    """
    from s2s.io import atomic_open

    out = out or sys.stdout
    items, problems = expand_inputs(inputs)
    if fmt in TIMED:
        timestamps = True
    if fmt in ("srt", "vtt") and out_dir is None and len(items) + len(problems) > 1:
        raise S2SError(f"--format {fmt} writes one subtitle file per input: give --out-dir DIR for "
                       f"{len(items) + len(problems)} inputs")
    for name, reason in problems:
        print(f"s2s-transcribe: {name}: {reason}", file=sys.stderr)
    rec = load_engine(model, engine, device, threads)
    dec = Decoder(rec, decoder, beam_args)
    names = output_names(items)
    single = len(items) == 1 and not problems
    failed, done = len(problems), 0
    progress = _progress(len(items))
    for t in Transcriber(rec, dec, timestamps, batch_seconds, max_segment).run(items):
        progress.update(1)
        if t.error is not None:
            failed += 1
            print(f"s2s-transcribe: {t.name}: {t.error}", file=sys.stderr)
            continue
        done += 1
        text = render(t, fmt, key=names[t.name])
        if out_dir is not None:
            with atomic_open(Path(out_dir) / f"{names[t.name]}.{EXTENSIONS[fmt]}") as f:
                f.write(text)
        elif fmt == "text" and not single:
            out.write(f"{t.name}\t{text}")
        else:
            out.write(text)
        out.flush()
    progress.close()
    if failed:
        raise S2SError(f"{failed} of {failed + done} inputs could not be transcribed (see the lines above)")
    return done


def _progress(total: int):
    from tqdm import tqdm

    return tqdm(total=total, unit="file", disable=not sys.stderr.isatty() or total < 2, file=sys.stderr,
                dynamic_ncols=True, leave=False)
