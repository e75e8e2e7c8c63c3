#!/usr/bin/env python3
"""A long recording made of a set's utterances: does s2s-transcribe hear it as it hears them one by one?

    python local/long_audio.py --model exp/train/model.pt --data data/test --out exp/train/long_audio

The utterances' files are stitched into one recording with pauses of 0.6-1.6 s (seeded, a
-60 dBFS noise floor);
where each one's speech lies in it is known (its first and last 10 ms louder than
``SPEECH_FLOOR_DB``). ``s2s-transcribe`` runs on the files one by one and on the recording
(cut at the pauses by its voice activity detector), with word timestamps. Printed and written to OUT/summary.json: the WER of
both against the references, and the distance between where each utterance's words
start/end in the recording and where it was stitched in (judged where the first/last
word was recognised: a deleted word says nothing about timing). OUT/long.wav,
OUT/long.srt and OUT/long.json are kept for a look.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

SPEECH_FLOOR_DB = -40.0  # 10 ms frames louder than this (RMS, dBFS) are speech; the corpus's noise is -70..-50


def speech_span(wav: np.ndarray, sr: int = 16000) -> tuple[float, float]:
    """(start, end) seconds of the speech in ``wav``: its first and last 10 ms frame above SPEECH_FLOOR_DB."""
    hop = sr // 100
    n = len(wav) // hop
    rms = np.sqrt(np.square(wav[: n * hop].reshape(n, hop).astype(np.float64)).mean(1))
    loud = np.flatnonzero(20 * np.log10(np.maximum(rms, 1e-10)) > SPEECH_FLOOR_DB)
    return (loud[0] / 100, (loud[-1] + 1) / 100) if len(loud) else (0.0, 0.0)


def table(path: Path) -> dict[str, str]:
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition(" ")
        rows[key] = value.strip()
    return rows


def transcribe(model: Path, *args: str, env=None) -> str:
    proc = subprocess.run([sys.executable, "-m", "s2s.bin.transcribe", str(model), *args, "--decoder", "greedy"],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return proc.stdout


def evaluate(model: Path, data: Path, out: Path, seed: int = 0, max_utts: int = 0, env=None) -> dict:
    import jiwer

    out.mkdir(parents=True, exist_ok=True)
    refs = table(data / "text")
    wav_scp = table(data / "wav.scp")
    utts = sorted(refs)[: max_utts or None]
    rng = np.random.default_rng(seed)
    (out / "utts").mkdir(exist_ok=True)
    # Pauses carry a noise floor like the corpus's recordings (make_corpus.as_recorded), not digital silence.
    def pause(seconds: float) -> np.ndarray:
        return (10 ** (-60 / 20) * rng.standard_normal(int(seconds * 16000))).astype(np.float32)

    pieces, spans, pos = [pause(0.5)], [], 0.5
    for u in utts:
        wav, sr = sf.read(wav_scp[u], dtype="float32")
        assert sr == 16000, f"{wav_scp[u]}: {sr} Hz"
        sf.write(out / "utts" / f"{u}.wav", wav, 16000, subtype="PCM_16")
        a, b = speech_span(wav)
        spans.append((pos + a, pos + b))
        gap = pause(rng.uniform(0.6, 1.6))
        pieces += [wav, gap]
        pos += (len(wav) + len(gap)) / 16000
    sf.write(out / "long.wav", np.concatenate(pieces), 16000, subtype="PCM_16")

    one = {Path(line.split("\t")[0]).stem: line.split("\t")[1]
           for line in transcribe(model, str(out / "utts"), env=env).splitlines()}
    long = json.loads(transcribe(model, str(out / "long.wav"), "--format", "json", "--timestamps", env=env))
    (out / "long.json").write_text(json.dumps(long, indent=1) + "\n")
    (out / "long.srt").write_text(transcribe(model, str(out / "long.wav"), "--format", "srt", env=env))
    words = long["words"]

    ref_all = " ".join(refs[u] for u in utts)
    result = {"utterances": len(utts), "seconds": round(pos, 1),
              "wer_one_by_one": round(100 * jiwer.wer(ref_all, " ".join(one.get(u, "") for u in utts)), 2),
              "wer_long": round(100 * jiwer.wer(ref_all, " ".join(w["word"] for w in words)), 2)}
    # Times are judged on the words that were recognised: an utterance's start by its first word
    # when that is the reference's first word, its end likewise by its last word.
    starts, ends, missing = [], [], []
    for (a, b), u in zip(spans, utts):
        mine = [w for w in words if a - 0.3 <= (w["start"] + w["end"]) / 2 <= b + 0.3]
        if not mine:
            missing.append(u)
            continue
        ref = refs[u].split()
        if mine[0]["word"] == ref[0]:
            starts.append(mine[0]["start"] - a)
        if mine[-1]["word"] == ref[-1]:
            ends.append(mine[-1]["end"] - b)
    result.update(missing=missing, starts_judged=len(starts), ends_judged=len(ends),
                  max_abs_start_error=round(float(np.max(np.abs(starts))), 3) if starts else None,
                  max_abs_end_error=round(float(np.max(np.abs(ends))), 3) if ends else None,
                  mean_start_error=round(float(np.mean(starts)), 3) if starts else None,
                  mean_end_error=round(float(np.mean(ends)), 3) if ends else None)
    # Segmentation alone: is every utterance's speech inside one segment of the recording?
    from s2s.decode.segment import Segmenter

    x, _ = sf.read(out / "long.wav", dtype="float32")
    segs = [(g.start, g.start + len(g.audio) / 16000)
            for g in Segmenter(16000).segments(x[i:i + 160000] for i in range(0, len(x), 160000))]
    result["utterances_split"] = sum(not any(s <= a and b <= e for s, e in segs) for a, b in spans)
    result["segments"] = len(segs)
    (out / "summary.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--data", type=Path, default=Path("data/test"))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-utts", type=int, default=0)
    a = p.parse_args()
    r = evaluate(a.model, a.data, a.out, a.seed, a.max_utts)
    print(json.dumps(r, indent=1))


if __name__ == "__main__":
    main()
