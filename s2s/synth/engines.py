"""Speech synthesizers used for data augmentation: flite, espeak-ng and festival.

Each engine is a Debian program run through ``subprocess``; nothing is linked in.
A *speaker* is one voice at one pitch and one speaking rate, named by a stable id:

    <backend>_<voice>_<pitch field>_<rate field>

    espeak-ng_en-us+m3_p045_s160   espeak-ng voice en-us, variant m3, -p 45, -s 160 words/min
    flite_slt_f170_d115            flite voice slt, int_f0_target_mean=170 Hz, duration_stretch=1.15
    festival_kal_diphone_f000_d100 festival voice kal_diphone, its own pitch (0 = voice default)

Ids hold no ':' or spaces so that they can prefix utterance ids and name wav files
(a ':' in a wav.scp path reads as an ark offset to Kaldi tools, and breaks scp/rsync).
Fields are zero-padded so that no id is a prefix of another and C-sorting keeps
speakers together. Audio comes back float32 mono in [-1, 1] at the requested rate;
an engine that writes another rate is resampled with sox.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from s2s.errors import S2SError
from s2s.io import atomic_path

BACKENDS = ("espeak-ng", "festival", "flite")

# Per backend: (pitch letter, pitch range, rate letter, rate range). A pitch of 0 for
# flite/festival means "the voice's own pitch" (flite's rms ignores int_f0_target_mean).
_FIELDS = {
    "espeak-ng": ("p", (0, 99), "s", (80, 450)),
    "flite": ("f", (0, 400), "d", (50, 200)),
    "festival": ("f", (0, 400), "d", (50, 200)),
}
_INSTALL = {
    "espeak-ng": "sudo apt-get install espeak-ng",
    "flite": "sudo apt-get install flite",
    "festival": "sudo apt-get install festival festvox-kallpc16k",
}


@dataclass(frozen=True)
class Speaker:
    """One voice setting. ``pitch``/``rate`` are in the backend's own units (see module doc)."""

    backend: str
    voice: str
    pitch: int
    rate: int

    @property
    def id(self) -> str:
        p, _, r, _ = _FIELDS[self.backend]
        return f"{self.backend}_{self.voice}_{p}{self.pitch:03d}_{r}{self.rate:03d}"

    def __str__(self) -> str:
        return self.id


def parse_speaker(speaker_id: str) -> Speaker:
    """Parse a speaker id (no engine needed); raises S2SError naming the expected form."""
    backend, _, rest = speaker_id.partition("_")
    if backend not in _FIELDS:
        raise S2SError(f"speaker {speaker_id!r}: unknown backend {backend!r}; "
                       f"ids start with one of {', '.join(BACKENDS)} followed by '_'")
    p, (pmin, pmax), r, (rmin, rmax) = _FIELDS[backend]
    m = re.fullmatch(rf"(?P<voice>\S+)_{p}(?P<pitch>\d+)_{r}(?P<rate>\d+)", rest)
    if not m:
        raise S2SError(f"speaker {speaker_id!r}: expected {backend}_<voice>_{p}<pitch>_{r}<rate>, "
                       f"e.g. {_example(backend)}")
    spk = Speaker(backend, m["voice"], int(m["pitch"]), int(m["rate"]))
    if not pmin <= spk.pitch <= pmax or not rmin <= spk.rate <= rmax:
        raise S2SError(f"speaker {speaker_id!r}: {p} must be in {pmin}..{pmax} and {r} in {rmin}..{rmax}")
    return spk


def _example(backend: str) -> str:
    return {"espeak-ng": "espeak-ng_en-us+m3_p045_s160", "flite": "flite_slt_f170_d100",
            "festival": "festival_kal_diphone_f000_d100"}[backend]


def _require_program(name: str, install: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise S2SError(f"{name} is not installed (not found on PATH); install it with: {install}")
    return path


def _run(cmd: list[str], what: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, check=True)
    except subprocess.CalledProcessError as e:
        tail = e.stderr.decode("utf-8", "replace").strip()[-500:]
        raise S2SError(f"{what}: {' '.join(cmd[:6])}... exited with {e.returncode}: {tail}") from None


def resample(waves: list[np.ndarray], sr_in: int, sr_out: int) -> list[np.ndarray]:
    """Resample many waveforms with one sox process.

    The waveforms are laid end to end with silence between them, each starting at a
    multiple of ``sr_in / gcd`` input samples, so that each starts at an exact output
    sample and can be cut back out; the gap keeps the filter of one from reaching the next.
    """
    if sr_in == sr_out or not waves:
        return [w.astype(np.float32, copy=False) for w in waves]
    sox = _require_program("sox", "sudo apt-get install sox")
    g = math.gcd(sr_in, sr_out)
    step_in, step_out = sr_in // g, sr_out // g
    gap = int(0.05 * sr_in)
    starts, pos = [], 0
    for w in waves:
        pos = -(-pos // step_in) * step_in
        starts.append(pos)
        pos += len(w) + gap
    buf = np.zeros(pos, dtype=np.float32)
    for w, s in zip(waves, starts):
        buf[s:s + len(w)] = w
    raw = ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-L"]
    cmd = [sox, "-D", *raw, "-r", str(sr_in), "-", *raw, "-r", str(sr_out), "-"]
    try:
        out = subprocess.run(cmd, input=buf.tobytes(), capture_output=True, check=True).stdout
    except subprocess.CalledProcessError as e:
        raise S2SError(f"sox resampling {sr_in} -> {sr_out} Hz failed: {e.stderr.decode(errors='replace')}") from None
    y = np.frombuffer(out, dtype="<f4")
    result = []
    for w, s in zip(waves, starts):
        o, n = s // step_in * step_out, round(len(w) * sr_out / sr_in)
        seg = y[o:o + n]
        result.append(np.pad(seg, (0, n - len(seg))).astype(np.float32))
    return result


class Synthesizer:
    """A speech synthesis engine. Subclasses render texts to wav files in a temp dir."""

    backend: str = ""
    program: str = ""

    def __init__(self):
        self.path = _require_program(self.program, _INSTALL[self.backend])
        self._voices: list[str] | None = None

    # -- what a subclass provides -------------------------------------------------------
    def _list_voices(self) -> list[str]:
        raise NotImplementedError

    def _speaker_grid(self, voices: list[str]) -> list[Speaker]:
        raise NotImplementedError

    def _render(self, texts: list[str], spk: Speaker, tmp: Path) -> list[Path]:
        """Write one wav per text under ``tmp``; return their paths in order."""
        raise NotImplementedError

    # -- the interface ------------------------------------------------------------------
    def voices(self) -> list[str]:
        """Installed voice names usable in speaker ids."""
        if self._voices is None:
            self._voices = self._list_voices()
        return self._voices

    def speakers(self) -> list[str]:
        """A default grid of speaker ids (voices x pitches x rates), sorted."""
        return sorted(s.id for s in self._speaker_grid(self.voices()))

    def speaker(self, speaker_id: str) -> Speaker:
        """Parse and check a speaker id against this engine and its installed voices."""
        spk = parse_speaker(speaker_id)
        if spk.backend != self.backend:
            raise S2SError(f"speaker {speaker_id!r} belongs to {spk.backend}, not {self.backend}")
        self._check_voice(spk.voice, speaker_id)
        return spk

    def _check_voice(self, voice: str, speaker_id: str) -> None:
        if voice not in self.voices():
            raise S2SError(f"speaker {speaker_id!r}: {self.backend} has no voice {voice!r}; "
                           f"installed: {' '.join(self.voices())}")

    def synthesize(self, texts: list[str], speaker: str, sample_rate: int = 16000) -> list[np.ndarray]:
        """Speak each text with one speaker; float32 mono arrays at ``sample_rate``.

        Texts are spoken as given: normalise them first (s2s.data.text.normalize_text)
        so that transcripts match the audio. An empty text gives an empty array.
        """
        spk = self.speaker(speaker)
        out = [np.zeros(0, dtype=np.float32) for _ in texts]
        todo = [i for i, t in enumerate(texts) if t.strip()]
        by_rate: dict[int, list[tuple[int, np.ndarray]]] = {}
        with tempfile.TemporaryDirectory(prefix="s2s-synth-") as tmp:
            paths = self._render([texts[i] for i in todo], spk, Path(tmp))
            for i, path in zip(todo, paths):
                try:
                    wav, sr = sf.read(str(path), dtype="float32", always_2d=True)
                except (RuntimeError, OSError) as e:  # soundfile raises LibsndfileError (a RuntimeError)
                    raise S2SError(f"{self.backend} wrote no readable audio for text {texts[i]!r} "
                                   f"with {speaker}: {e}") from None
                by_rate.setdefault(sr, []).append((i, wav.mean(axis=1)))
        for sr, items in by_rate.items():
            for (i, _), wav in zip(items, resample([w for _, w in items], sr, sample_rate)):
                out[i] = wav
        return out


class EspeakNg(Synthesizer):
    """espeak-ng: formant synthesis, many voice variants (``en-us+m3``), pitch -p, speed -s."""

    backend, program = "espeak-ng", "espeak-ng"
    LANGUAGES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029")

    def _list_voices(self) -> list[str]:
        langs = self._table(_run([self.path, "--voices=en"], "listing espeak-ng voices").stdout, 1)
        variants = self._table(_run([self.path, "--voices=variant"], "listing espeak-ng variants").stdout, 4)
        # The file column reads "!v/m3"; names with odd characters cannot live in an id.
        variants = [v.split("/", 1)[1] for v in variants if v.startswith("!v/")]
        variants = [v for v in variants if re.fullmatch(r"[A-Za-z0-9]+", v)]
        langs = sorted({lang for lang in langs if lang.startswith("en")})
        return sorted(set(langs) | {f"{lang}+{v}" for lang in langs for v in variants})

    @staticmethod
    def _table(listing: bytes, column: int) -> list[str]:
        rows = [line.split() for line in listing.decode("utf-8", "replace").splitlines()[1:]]
        return [r[column] for r in rows if len(r) > column]

    def _check_voice(self, voice: str, speaker_id: str) -> None:
        lang, _, variant = voice.partition("+")
        if lang not in self.voices() or (variant and voice not in self.voices()):
            raise S2SError(f"speaker {speaker_id!r}: espeak-ng has no voice {voice!r}; voices are "
                           f"<language>+<variant> with language in "
                           f"{' '.join(v for v in self.voices() if '+' not in v)} "
                           f"and variants from `espeak-ng --voices=variant`")

    def _speaker_grid(self, voices):
        return [Speaker(self.backend, v, p, s) for v in voices if "+" in v
                and v.split("+")[0] in self.LANGUAGES for p in (35, 50, 65) for s in (150, 175)]

    def _render(self, texts, spk, tmp):
        paths = []
        for i, text in enumerate(texts):
            # Text goes through a file so that nothing in it can read as an option.
            (tmp / f"{i}.txt").write_text(text + "\n", encoding="utf-8")
            wav = tmp / f"{i}.wav"
            _run([self.path, "-v", spk.voice, "-p", str(spk.pitch), "-s", str(spk.rate),
                  "-f", str(tmp / f"{i}.txt"), "-w", str(wav)], f"espeak-ng ({spk.id})")
            paths.append(wav)
        return paths


class Flite(Synthesizer):
    """flite: CMU's small engine; voices kal, kal16 (diphone), awb, rms, slt (clustergen)."""

    backend, program = "flite", "flite"
    # The voices' own mean F0 (Hz, measured), centre of the default pitch grid; rms
    # ignores int_f0_target_mean so it only gets pitch 0 (its own).
    NATURAL_F0 = {"kal": 95, "kal16": 95, "awb": 120, "slt": 175}

    def _list_voices(self):
        listing = _run([self.path, "-lv"], "listing flite voices").stdout.decode("utf-8", "replace")
        names = listing.split(":", 1)[-1].split()
        # awb_time is a limited-domain voice that can only say clock times.
        return sorted(n for n in names if n != "awb_time")

    def _speaker_grid(self, voices):
        grid = []
        for v in voices:
            f0 = self.NATURAL_F0.get(v)
            pitches = (0,) if f0 is None else (round(f0 * 0.85), f0, round(f0 * 1.2))
            grid += [Speaker(self.backend, v, p, d) for p in pitches for d in (85, 100, 115)]
        return grid

    def _render(self, texts, spk, tmp):
        opts = ["-voice", spk.voice, "--setf", f"duration_stretch={spk.rate / 100:g}"]
        if spk.pitch:
            opts += ["--setf", f"int_f0_target_mean={spk.pitch}"]
        paths = []
        for i, text in enumerate(texts):
            (tmp / f"{i}.txt").write_text(text + "\n", encoding="utf-8")
            wav = tmp / f"{i}.wav"
            _run([self.path, *opts, "-f", str(tmp / f"{i}.txt"), "-o", str(wav)], f"flite ({spk.id})")
            paths.append(wav)
        return paths


class Festival(Synthesizer):
    """festival: one process renders a whole batch from a Scheme script."""

    backend, program = "festival", "festival"

    def _list_voices(self):
        out = _run([self.path, "-b", "(print (voice.list))"], "listing festival voices").stdout
        return sorted(re.findall(r"[A-Za-z0-9_]+", out.decode("utf-8", "replace")))

    def _speaker_grid(self, voices):
        return [Speaker(self.backend, v, p, d) for v in voices for p in (0, 90, 125) for d in (85, 100, 115)]

    def _render(self, texts, spk, tmp):
        lines = [f"(voice_{spk.voice})", f"(Parameter.set 'Duration_Stretch {spk.rate / 100:g})"]
        if spk.pitch:
            # Prepending wins in an assoc list; voices with LR intonation targets read it.
            lines.append(f"(set! int_lr_params (cons '(target_f0_mean {spk.pitch}) int_lr_params))")
        paths = []
        for i, text in enumerate(texts):
            wav = tmp / f"{i}.wav"
            quoted = text.replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'(utt.save.wave (utt.synth (Utterance Text "{quoted}")) "{wav}" \'riff)')
            paths.append(wav)
        script = tmp / "batch.scm"
        script.write_text("\n".join(lines) + "\n", encoding="utf-8")
        _run([self.path, "-b", str(script)], f"festival ({spk.id})")
        return paths


_ENGINES = {cls.backend: cls for cls in (EspeakNg, Festival, Flite)}


def get_synthesizer(backend: str) -> Synthesizer:
    """The synthesizer for ``backend`` (flite, espeak-ng, festival).

    Raises S2SError for an unknown backend, or one whose program is not installed
    (the message gives the apt-get command).
    """
    if backend not in _ENGINES:
        raise S2SError(f"unknown synthesis backend {backend!r}; choose from {', '.join(BACKENDS)}")
    return _ENGINES[backend]()


def save_wav(path, wav: np.ndarray, sample_rate: int) -> None:
    """Write 16-bit PCM wav atomically (clipped to [-1, 1])."""
    with atomic_path(path) as tmp:
        sf.write(str(tmp), np.clip(wav, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")


def synthesize_to_files(utts: list[tuple[str, str, str]], wav_dir, sample_rate: int = 16000,
                        progress=None, synth=None, batch: int = 64) -> dict[str, dict[str, str]]:
    """Speak ``(utt_id, speaker_id, text)`` triples into ``wav_dir/<utt_id>.wav``.

    Utterances of one speaker go to the synthesizer in batches of up to ``batch``: ``synth``
    (any object with ``synthesize(texts, speaker, sample_rate)``, e.g. a Tacotron 2
    backend), or else the engine each speaker id names. Returns the Kaldi tables
    ``wav.scp`` (absolute paths), ``text``, ``utt2spk`` and ``utt2dur`` as dicts;
    ``progress(n)`` is called after each batch of n utterances.
    """
    wav_dir = Path(wav_dir).resolve()
    wav_dir.mkdir(parents=True, exist_ok=True)
    by_speaker: dict[str, list[tuple[str, str]]] = {}
    for utt, spk, text in utts:
        by_speaker.setdefault(spk, []).append((utt, text))
    engines: dict[str, Synthesizer] = {}
    tables: dict[str, dict[str, str]] = {"wav.scp": {}, "text": {}, "utt2spk": {}, "utt2dur": {}}
    for spk, all_items in sorted(by_speaker.items()):
        engine = synth
        if engine is None:
            backend = parse_speaker(spk).backend
            if backend not in engines:
                engines[backend] = get_synthesizer(backend)
            engine = engines[backend]
        for first in range(0, len(all_items), batch):
            items = all_items[first:first + batch]
            waves = engine.synthesize([t for _, t in items], spk, sample_rate)
            for (utt, text), wav in zip(items, waves):
                path = wav_dir / f"{utt}.wav"
                save_wav(path, wav, sample_rate)
                tables["wav.scp"][utt] = str(path)
                tables["text"][utt] = text
                tables["utt2spk"][utt] = spk
                tables["utt2dur"][utt] = f"{len(wav) / sample_rate:.4f}"
            if progress is not None:
                progress(len(items))
    return tables
