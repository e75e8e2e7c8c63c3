#!/usr/bin/env python3
"""Make train/dev/test Kaldi data directories for a Speech Commands keyword-spotting task.

  local/data_prep.py --task v1-12 DOWNLOAD_DIR/speech_commands_v0.01 data

Splits are the official ones: dev = validation_list.txt, test = testing_list.txt,
train = every other clip (``_background_noise_`` is never a clip). ``text`` holds the
label, utt2spk the speaker hash (``<hash>_nohash_<n>.wav``), so a speaker stays in one split.

Tasks:
  v1-12  yes no up down left right on off stop go, ``_unknown_`` (clips of all other
         words, subsampled to --unknown-percentage of the known clips) and ``_silence_``
         (1 s slices of the _background_noise_ recordings, --silence-percentage of the
         known clips), as in TensorFlow's speech_commands example (both 10 %).
         Works on v0.01 and v0.02.
  v1-30  the 30 words of v0.01, no extra classes.
  v2-35  the 35 words of v0.02, no extra classes.

Silence slices are ``sox NOISE.wav -t wav - trim START 1 |`` pipes; each split cuts them from
its own stretch of every noise file (train the first 80 %, dev the next 10 %, test the
last 10 %), so no noise audio is shared between splits. Sampling is seeded (--seed).

Every clip's header is checked: one that is not 16 kHz mono is an error listing the clips
(--skip-bad-audio leaves them out with a count instead). A missing list file and a class
with no clips in a split are errors naming them. Writes DATA/{train,dev,test} and
DATA/labels.txt (the task's labels, one per line, in class-index order).
"""

from __future__ import annotations

import argparse
import math
import random
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import soundfile as sf  # noqa: E402

from s2s.data.datadir import utt2spk_to_spk2utt, write_table  # noqa: E402
from s2s.errors import S2SError  # noqa: E402
from s2s.io import atomic_open  # noqa: E402

PROG = "local/data_prep.py"
SAMPLE_RATE = 16000
NOISE = "_background_noise_"
UNKNOWN, SILENCE = "_unknown_", "_silence_"
COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
WORDS_V1 = ("bed", "bird", "cat", "dog", "down", "eight", "five", "four", "go", "happy", "house",
            "left", "marvin", "nine", "no", "off", "on", "one", "right", "seven", "sheila", "six",
            "stop", "three", "tree", "two", "up", "wow", "yes", "zero")
WORDS_V2 = tuple(sorted(WORDS_V1 + ("backward", "forward", "follow", "learn", "visual")))
TASKS = {"v1-12": COMMANDS, "v1-30": WORDS_V1, "v2-35": WORDS_V2}
SPLITS = ("train", "dev", "test")
LISTS = {"dev": "validation_list.txt", "test": "testing_list.txt"}
# Where each split cuts its silence from, as fractions of every noise recording.
NOISE_SPANS = {"train": (0.0, 0.8), "dev": (0.8, 0.9), "test": (0.9, 1.0)}
CLIP_NAME = re.compile(r"(?P<spk>[0-9A-Za-z]+)_nohash_(?P<n>\d+)\.wav")
SHOW = 5


def _examples(items: list[str]) -> str:
    more = f", ... ({len(items) - SHOW} more)" if len(items) > SHOW else ""
    return ", ".join(items[:SHOW]) + more


def read_list(corpus: Path, split: str) -> set[str]:
    """The ``word/file.wav`` entries of a split's list file, each checked to exist."""
    path = corpus / LISTS[split]
    if not path.is_file():
        raise S2SError(
            f"{path}: not found; the {split} split is defined by it. The corpus is incomplete: "
            f"re-run local/download.sh (delete the extraction marker .speech_commands_v0.0*.tar.gz.done first)"
        )
    out = set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        rel = line.strip()
        if not rel:
            continue
        if rel.count("/") != 1 or not rel.endswith(".wav"):
            raise S2SError(f"{path}:{lineno}: {rel!r} is not 'word/file.wav'; fix or remove the line")
        if not (corpus / rel).is_file():
            raise S2SError(f"{path}:{lineno}: {corpus / rel} does not exist; the corpus is incomplete, re-extract it")
        out.add(rel)
    return out


def scan_clips(corpus: Path) -> dict[str, list[str]]:
    """``word -> sorted ['word/file.wav', ...]`` for every word folder (noise excluded)."""
    words = {}
    for d in sorted(p for p in corpus.iterdir() if p.is_dir() and p.name != NOISE and not p.name.startswith(".")):
        clips = []
        for wav in sorted(d.glob("*.wav")):
            if not CLIP_NAME.fullmatch(wav.name):
                raise S2SError(
                    f"{wav}: clip name is not <speaker>_nohash_<n>.wav, so its speaker is unknown; "
                    f"rename or remove it"
                )
            clips.append(f"{d.name}/{wav.name}")
        words[d.name] = clips
    if not words:
        raise S2SError(f"{corpus}: no word folders; give the extracted corpus (run local/download.sh first)")
    return words


def check_audio(corpus: Path, rels: list[str], skip_bad: bool) -> tuple[set[str], dict[str, float]]:
    """Header-check clips; return (bad clips, ``rel -> duration``). Bad = unreadable or not 16 kHz mono."""
    bad, why, dur = set(), [], {}
    for rel in rels:
        try:
            info = sf.info(str(corpus / rel))
        except (RuntimeError, sf.LibsndfileError) as e:
            bad.add(rel)
            why.append(f"{rel} (unreadable: {e})")
            continue
        if info.samplerate != SAMPLE_RATE or info.channels != 1:
            bad.add(rel)
            why.append(f"{rel} ({info.samplerate} Hz, {info.channels} channel(s))")
            continue
        dur[rel] = info.frames / info.samplerate
    if bad:
        msg = f"{corpus}: {len(bad)} clip(s) are not {SAMPLE_RATE} Hz mono: {_examples(why)}"
        if not skip_bad:
            raise S2SError(
                msg + ". Convert them (sox IN.wav -r 16000 -c 1 OUT.wav) or pass --skip-bad-audio "
                "to leave them out"
            )
        print(f"{PROG}: warning: {msg}; left out (--skip-bad-audio)", file=sys.stderr)
    return bad, dur


def noise_files(corpus: Path) -> list[tuple[Path, float]]:
    """``(path, seconds)`` of the background-noise recordings, checked to be 16 kHz mono."""
    d = corpus / NOISE
    if not d.is_dir():
        raise S2SError(f"{d}: not found; the _silence_ class is cut from it (or pass --silence-percentage 0)")
    out = []
    for wav in sorted(d.glob("*.wav")):
        info = sf.info(str(wav))
        if info.samplerate != SAMPLE_RATE or info.channels != 1:
            raise S2SError(
                f"{wav}: {info.samplerate} Hz, {info.channels} channel(s); silence slices need {SAMPLE_RATE} Hz "
                f"mono: convert it (sox IN.wav -r 16000 -c 1 OUT.wav) or remove it"
            )
        out.append((wav.resolve(), info.frames / info.samplerate))
    if not out:
        raise S2SError(f"{d}: no .wav recordings; the _silence_ class is cut from them")
    return out


def silence_slices(noises: list[tuple[Path, float]], split: str, count: int,
                   rng: random.Random) -> list[tuple[Path, float]]:
    """``count`` (file, start) pairs of 1 s slices inside the split's span of each recording."""
    lo, hi = NOISE_SPANS[split]
    spans = [(path, lo * sec, hi * sec) for path, sec in noises if (hi - lo) * sec >= 1.0]
    if not spans:
        longest = max(sec for _, sec in noises)
        raise S2SError(
            f"{noises[0][0].parent}: recordings too short for 1 s silence slices in the {split} split "
            f"(it uses {lo:.0%}-{hi:.0%} of each; the longest is {longest:.1f} s); add longer noise "
            f"recordings or pass --silence-percentage 0"
        )
    out = []
    for k in range(count):
        path, a, b = spans[k % len(spans)]
        out.append((path, round(rng.uniform(a, b - 1.0), 3)))
    return out


def prepare(corpus, data_root, task: str = "v1-12", silence_percentage: float = 10.0,
            unknown_percentage: float = 10.0, seed: int = 59185,
            skip_bad_audio: bool = False) -> dict[str, dict[str, int]]:
    """Write ``data_root/{train,dev,test}`` and ``data_root/labels.txt``; return label counts per split."""
    corpus, data_root = Path(corpus), Path(data_root)
    if task not in TASKS:
        raise S2SError(f"--task {task!r}: unknown; choose one of {', '.join(TASKS)}")
    if not corpus.is_dir():
        raise S2SError(f"{corpus}: directory not found; run local/download.sh first")
    keywords = TASKS[task]
    extras = task == "v1-12"
    use_unknown = extras and unknown_percentage > 0
    use_silence = extras and silence_percentage > 0
    # Class order as in TensorFlow's speech_commands example: silence, unknown, then the words.
    labels = ([SILENCE] if use_silence else []) + ([UNKNOWN] if use_unknown else []) + list(keywords)

    lists = {s: read_list(corpus, s) for s in LISTS}
    both = sorted(lists["dev"] & lists["test"])
    if both:
        raise S2SError(f"{corpus}: {len(both)} clip(s) are in both list files ({_examples(both)}); "
                       f"the lists are damaged, re-extract the corpus")
    words = scan_clips(corpus)
    considered = [w for w in words if w in keywords or use_unknown]
    ignored = sorted(w for w in words if w not in considered)
    if ignored:
        print(f"{PROG}: {task}: ignoring word folder(s) not in the task: {' '.join(ignored)}", file=sys.stderr)
    rels = [r for w in considered for r in words[w]]
    bad, dur = check_audio(corpus, rels, skip_bad_audio)

    # split -> label -> clips
    by_split: dict[str, dict[str, list[str]]] = {s: {label: [] for label in labels} for s in SPLITS}
    for rel in rels:
        if rel in bad:
            continue
        word = rel.split("/", 1)[0]
        split = "dev" if rel in lists["dev"] else "test" if rel in lists["test"] else "train"
        by_split[split][word if word in keywords else UNKNOWN].append(rel)

    rng = random.Random(seed)
    noises = noise_files(corpus) if use_silence else []
    counts: dict[str, dict[str, int]] = {}
    tables: dict[str, dict[str, dict[str, str]]] = {}
    for split in SPLITS:
        classes = by_split[split]
        n_known = sum(len(classes[w]) for w in keywords)
        if use_unknown:
            # TensorFlow's recipe: unknown clips are a fixed share of the known ones.
            pool = sorted(classes[UNKNOWN])
            rng.shuffle(pool)
            classes[UNKNOWN] = sorted(pool[:math.ceil(n_known * unknown_percentage / 100)])
        wav_scp, text, utt2spk, utt2dur = {}, {}, {}, {}
        for label in keywords + ((UNKNOWN,) if use_unknown else ()):
            for rel in classes[label]:
                m = CLIP_NAME.fullmatch(rel.split("/", 1)[1])
                word = rel.split("/", 1)[0]
                utt = f"{m['spk']}-{word}-{m['n']}"
                wav_scp[utt] = str((corpus / rel).resolve())
                text[utt] = label
                utt2spk[utt] = m["spk"]
                utt2dur[utt] = f"{dur[rel]:.4f}"
        if use_silence:
            n_sil = math.ceil(n_known * silence_percentage / 100)
            for k, (path, start) in enumerate(silence_slices(noises, split, n_sil, rng)):
                spk = "noise_" + re.sub(r"[^0-9A-Za-z]", "_", path.stem)
                utt = f"{spk}-{split}-{k:05d}"
                wav_scp[utt] = f"sox {shlex.quote(str(path))} -t wav - trim {start:.3f} 1 |"
                text[utt] = SILENCE
                utt2spk[utt] = spk
                utt2dur[utt] = "1.0000"
                classes[SILENCE].append(utt)
        empty = [label for label in labels if not classes[label]]
        if empty:
            where = ", ".join(f"{label} ({corpus / label}/)" if label in keywords
                              else f"{label} (no clips of other words)" if label == UNKNOWN
                              else label for label in empty)
            raise S2SError(
                f"{corpus}: class(es) with no clips in the {split} split: {where}. The corpus is "
                f"incomplete or is not the one --task {task} expects"
            )
        tables[split] = {"wav.scp": wav_scp, "text": text, "utt2spk": utt2spk,
                         "spk2utt": utt2spk_to_spk2utt(utt2spk), "utt2dur": utt2dur}
        counts[split] = {label: len(classes[label]) for label in labels}
    # Written only once every split is known to be complete: a failure leaves no half-made data.
    for split, split_tables in tables.items():
        for name, table in split_tables.items():
            write_table(data_root / split / name, table)
    with atomic_open(data_root / "labels.txt") as f:
        f.writelines(label + "\n" for label in labels)
    return counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus", help="the extracted corpus, e.g. downloads/speech_commands_v0.01")
    p.add_argument("data_root", help="where to write train/, dev/, test/ and labels.txt, e.g. data")
    p.add_argument("--task", default="v1-12", choices=sorted(TASKS), help="label set (default v1-12)")
    p.add_argument("--silence-percentage", type=float, default=10.0,
                   help="v1-12: _silence_ clips per split, in %% of the known-word clips (default 10)")
    p.add_argument("--unknown-percentage", type=float, default=10.0,
                   help="v1-12: _unknown_ clips per split, in %% of the known-word clips (default 10)")
    p.add_argument("--seed", type=int, default=59185, help="seed for the unknown/silence sampling")
    p.add_argument("--skip-bad-audio", action="store_true",
                   help="leave out clips that are not 16 kHz mono (counted) instead of failing")
    args = p.parse_args(argv)
    try:
        counts = prepare(args.corpus, args.data_root, task=args.task,
                         silence_percentage=args.silence_percentage,
                         unknown_percentage=args.unknown_percentage, seed=args.seed,
                         skip_bad_audio=args.skip_bad_audio)
    except S2SError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    for split, c in counts.items():
        print(f"{PROG}: {args.data_root}/{split}: {sum(c.values())} clips, {len(c)} labels", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
