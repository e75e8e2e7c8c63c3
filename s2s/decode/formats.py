"""Transcripts as text, JSON, CTM, SRT and WebVTT.

``Transcript`` is one input's result. ``render(t, fmt)`` gives the text of one
transcript in a format (``text``: the words; ``json``: one object with the words,
their times and confidences; ``ctm``: NIST CTM, a word per line; ``srt`` / ``vtt``:
subtitle cues). Cues break at pauses of ``CUE_GAP`` seconds, after ``CUE_SECONDS``
seconds or ``CUE_CHARS`` characters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

FORMATS = ("text", "json", "ctm", "srt", "vtt")
TIMED = ("ctm", "srt", "vtt")  # formats that need word times
EXTENSIONS = {"text": "txt", "json": "json", "ctm": "ctm", "srt": "srt", "vtt": "vtt"}
CUE_GAP = 0.8
CUE_SECONDS = 5.0
CUE_CHARS = 42


@dataclass
class Transcript:
    name: str                       # the input: a file path or an utterance id
    text: str = ""
    words: list | None = None       # s2s.decode.ctc.Word, when timestamps were asked for
    duration: float = 0.0           # seconds of audio read
    error: str | None = None        # why the input could not be transcribed
    notes: list[str] = field(default_factory=list)


def render(t: Transcript, fmt: str, key: str | None = None) -> str:
    """The transcript in ``fmt``; ``key`` names the recording in CTM lines (default: ``t.name``)."""
    if fmt == "text":
        return t.text + "\n"
    if fmt == "json":
        obj = {"file": t.name, "text": t.text, "duration": round(t.duration, 3)}
        if t.words is not None:
            obj["words"] = [w.to_dict() for w in t.words]
        return json.dumps(obj, ensure_ascii=False) + "\n"
    if fmt == "ctm":
        rec = (key or t.name).replace(" ", "_")
        return "".join(f"{rec} 1 {w.start:.3f} {w.end - w.start:.3f} {w.word} {w.conf:.3f}\n" for w in t.words or [])
    if fmt in ("srt", "vtt"):
        return _subtitles(t.words or [], fmt)
    raise ValueError(fmt)


def cues(words: list) -> list[tuple[float, float, str]]:
    """Words grouped into subtitle cues ``(start, end, text)``."""
    out: list[list] = []
    for w in words:
        if out:
            cur = out[-1]
            text = " ".join(x.word for x in cur) + " " + w.word
            if w.start - cur[-1].end < CUE_GAP and w.end - cur[0].start <= CUE_SECONDS and len(text) <= CUE_CHARS:
                cur.append(w)
                continue
        out.append([w])
    return [(c[0].start, c[-1].end, " ".join(x.word for x in c)) for c in out]


def _stamp(t: float, sep: str) -> str:
    ms = int(round(t * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _subtitles(words: list, fmt: str) -> str:
    sep = "," if fmt == "srt" else "."
    parts = ["WEBVTT\n\n"] if fmt == "vtt" else []
    for i, (a, b, text) in enumerate(cues(words), 1):
        head = f"{i}\n" if fmt == "srt" else ""
        parts.append(f"{head}{_stamp(a, sep)} --> {_stamp(b, sep)}\n{text}\n\n")
    return "".join(parts)
