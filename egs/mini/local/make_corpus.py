#!/usr/bin/env python3
"""Make the mini corpus: synthetic digit strings and home-automation commands (no download).

Half the utterances are connected digit strings (zero..nine and "oh", 1-7 words),
half are commands from local/mini_text.py (about 200 words). A speaker is one voice
setting of flite or espeak-ng (voice, pitch, rate; see s2s.synth). dev and test are
spoken by espeak-ng voice variants and pitches never used in train, and no dev/test
sentence occurs in train (checked). Every file then sounds recorded rather than synthesized:
silence before and after the speech and a low noise floor (``as_recorded``). Everything
follows from --seed.

Outputs (data prep is part of --merge; there is no separate data_prep.sh):
  CORPUS/{train,dev,test}/<utt>.wav    16 kHz mono 16-bit
  DATA/{train,dev,test}/               wav.scp (absolute paths), text, utt2spk, spk2utt, utt2dur
  utt ids are <speaker>-<number>, so C-sorting keeps each speaker's utterances together.

Usage (from egs/mini):
  # all in one command, N worker processes:
  python local/make_corpus.py [--nj 2] [--num-train 3000 --num-dev 300 --num-test 300 --seed 1]
  # or through the job runner, then merge:
  $cmd JOB=1:N log/make_corpus.JOB.log python local/make_corpus.py --nj N --job JOB
  python local/make_corpus.py --nj N --merge
Job J synthesizes every N-th utterance into CORPUS/ and its tables into CORPUS/splitN/J/;
a job whose tables are complete is skipped, so a re-run after a crash only redoes the rest.
Options: --corpus-dir corpus --data-dir data --utts-per-speaker 30 (same values in every call).

Default size: train 3000 utterances (1.55 h, 100 speakers: 39 flite, 61 espeak-ng), dev and
test 300 each (0.19 h / 0.17 h, 10 speakers each), 202 words, 219 MB of wav. Making it
takes about one CPU-minute (62 s user+sys; 3 min wall with --nj 2 on a 2-core machine
under a load of ~10).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

try:
    import s2s  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .` or path.sh
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

import mini_text  # noqa: E402  (beside this script)

from s2s.data.datadir import read_table, utt2spk_to_spk2utt, write_table  # noqa: E402
from s2s.errors import S2SError  # noqa: E402
from s2s.synth import Speaker, synthesize_to_files  # noqa: E402

SUBSETS = ("train", "dev", "test")
SAMPLE_RATE = 16000

# Voices. Train: flite's five voices at three pitches and rates, and espeak-ng variants and
# accents over the whole pitch range, on a grid that leaves out every dev and test pitch value.
# dev and test: other espeak-ng variants and accents, at pitch values never used in train. (A
# first design kept train at mid pitches (35-65) and dev/test at the extremes: the model had to
# extrapolate and held-out WER stayed near 50%; real test speakers come from the same population
# as the training speakers, so the pitch values interleave here instead.)
FLITE_F0 = {"kal": 95, "kal16": 95, "awb": 120, "slt": 175, "rms": 0}  # rms ignores pitch: 0 = own
TRAIN_VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "adam", "Andy",
                  "boris", "david", "ed", "john", "linda", "max", "paul", "robert", "steph", "travis",
                  "victor", "zac", "aunty", "belinda", "benjamin", "Annie", "klatt5", "klatt6", "iven3",
                  "iven4", "edward2", "Gene2", "steph2", "steph3", "Denis", "Diogo", "Henrique", "Marco",
                  "michel", "Nguyen", "Storm", "anika", "grandpa", "grandma"]
DEV_VARIANTS = ["m8", "f5", "klatt", "klatt2", "Alex", "Alicia", "Andrea", "Gene", "Lee", "Michael",
                "Mike", "norbert", "quincy", "rob", "sandro", "shelby"]
TEST_VARIANTS = ["klatt3", "klatt4", "iven", "iven2", "edward", "caleb", "Hugo", "Jacky", "Mario",
                 "marcelo", "pablo", "pedro", "miguel", "gustave", "antonio"]
ESPEAK_POOLS = {
    # subset: (languages, variants, pitches (-p), speeds (-s, words/min))
    "train": (["en-us", "en-gb", "en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd"], TRAIN_VARIANTS,
              [10, 12, 18, 33, 35, 40, 45, 50, 55, 60, 65, 68, 82, 88, 90], range(140, 191, 10)),
    "dev": (["en-us", "en-gb-scotland"], DEV_VARIANTS, [20, 25, 30, 70, 75, 80], range(140, 191, 10)),
    "test": (["en-us", "en-gb-x-rp"], TEST_VARIANTS, [15, 22, 28, 72, 78, 85], range(140, 191, 10)),
}
FLITE_SHARE = 0.4  # of the train speakers


@dataclass(frozen=True)
class Utt:
    utt_id: str
    speaker: str
    text: str


def speaker_pool(subset: str) -> list[str]:
    """Every speaker id the subset may draw from, sorted (dev/test: espeak-ng only)."""
    langs, variants, pitches, speeds = ESPEAK_POOLS[subset]
    pool = [Speaker("espeak-ng", f"{lang}+{v}", p, s).id
            for lang in langs for v in variants for p in pitches for s in speeds]
    if subset == "train":
        for voice, f0 in FLITE_F0.items():
            f0s = [0] if f0 == 0 else [round(f0 * 0.85), f0, round(f0 * 1.15)]
            pool += [Speaker("flite", voice, f, d).id for f in f0s for d in (85, 100, 115)]
    return sorted(pool)


def new_texts(rng: random.Random, n: int, exclude: set[str], subset: str) -> list[str]:
    """n texts, half digit strings and half commands, none of them in ``exclude``."""
    out = []
    for i in range(n):
        make = mini_text.digit_string if i % 2 == 0 else mini_text.command
        for _ in range(10000):
            text = make(rng)
            if text not in exclude:
                break
        else:
            raise S2SError(f"{subset}: cannot find {n} sentences unseen in train; ask for fewer")
        out.append(text)
    rng.shuffle(out)
    return out


def _speakers(rng: random.Random, subset: str, n_utts: int, utts_per_speaker: int) -> list[str]:
    n = min(n_utts, max(2, math.ceil(n_utts / utts_per_speaker)))
    pool = speaker_pool(subset)
    flite = [s for s in pool if s.startswith("flite_")]
    espeak = [s for s in pool if not s.startswith("flite_")]
    n_flite = min(len(flite), round(n * FLITE_SHARE)) if flite else 0
    return sorted(rng.sample(flite, n_flite) + rng.sample(espeak, n - n_flite))


def make_plan(num_train: int, num_dev: int, num_test: int, seed: int = 1,
              utts_per_speaker: int = 30) -> dict[str, list[Utt]]:
    """Who says what in each subset, sorted by utt id; the same for the same arguments."""
    rng = random.Random(seed)
    sizes = {"train": num_train, "dev": num_dev, "test": num_test}
    plan: dict[str, list[Utt]] = {}
    seen: set[str] = set()
    for subset in SUBSETS:
        n = sizes[subset]
        if n <= 0:
            raise S2SError(f"--num-{subset} must be positive, got {n}")
        # Train may repeat a sentence (short commands recur); held-out sets never copy one.
        texts = new_texts(rng, n, seen if subset != "train" else set(), subset)
        seen |= set(texts)
        speakers = _speakers(rng, subset, n, utts_per_speaker)
        utts = [Utt(f"{speakers[k % len(speakers)]}-{k:05d}", speakers[k % len(speakers)], text)
                for k, text in enumerate(texts)]
        plan[subset] = sorted(utts, key=lambda u: u.utt_id)
    _check_held_out(plan)
    return plan


def _check_held_out(plan: dict[str, list[Utt]]) -> None:
    train_spk = {u.speaker for u in plan["train"]}
    train_txt = {u.text for u in plan["train"]}
    for subset in ("dev", "test"):
        spk = {u.speaker for u in plan[subset]}
        txt = {u.text for u in plan[subset]}
        if spk & train_spk or txt & train_txt:
            raise AssertionError(f"{subset} shares speakers or sentences with train")
    if {u.speaker for u in plan["dev"]} & {u.speaker for u in plan["test"]}:
        raise AssertionError("dev and test share speakers")


def job_share(plan: dict[str, list[Utt]], nj: int, job: int) -> dict[str, list[Utt]]:
    """Every nj-th utterance of each subset, starting at the job-th (1-based)."""
    return {subset: utts[job - 1::nj] for subset, utts in plan.items()}


def _split_dir(corpus_dir: Path, nj: int, job: int, subset: str) -> Path:
    return corpus_dir / f"split{nj}" / str(job) / subset


def _job_done(split: Path, utts: list[Utt]) -> bool:
    # utt2dur is written last, so its presence with the right keys means the job finished.
    if not (split / "utt2dur").is_file():
        return False
    text = read_table(split / "text", required=False)
    return text == {u.utt_id: u.text for u in utts} and read_table(split / "utt2dur").keys() == text.keys()


def run_job(plan: dict[str, list[Utt]], corpus_dir: Path, nj: int, job: int, seed: int = 1) -> str:
    """Synthesize job ``job``'s share into CORPUS/<subset>/ and CORPUS/splitNJ/JOB/<subset>/."""
    if not 1 <= job <= nj:
        raise S2SError(f"--job {job} is outside 1..{nj}")
    start, done, skipped = time.time(), 0, 0
    for subset, utts in job_share(plan, nj, job).items():
        split = _split_dir(corpus_dir, nj, job, subset)
        if _job_done(split, utts):
            skipped += len(utts)
            continue
        tables = synthesize_to_files([(u.utt_id, u.speaker, u.text) for u in utts],
                                     corpus_dir / subset, SAMPLE_RATE)
        for u in utts:
            tables["utt2dur"][u.utt_id] = f"{as_recorded(tables['wav.scp'][u.utt_id], seed, u.utt_id):.4f}"
        for name in ("wav.scp", "text", "utt2spk", "utt2dur"):
            write_table(split / name, tables[name])
        done += len(utts)
    return f"job {job}/{nj}: synthesized {done} utterances, {skipped} already done, {time.time() - start:.1f} s"


def as_recorded(path: str, seed: int, utt_id: str) -> float:
    """Make a synthesized file sound recorded: 0.05-0.3 s of silence before the speech (engines start
    at once, recordings do not), 0-0.2 s more after it, and a noise floor at -70 to -50 dBFS (no
    digital silence). Rewrites the file in place (16-bit) and returns its duration in seconds."""
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng([seed, zlib.crc32(utt_id.encode("utf-8"))])
    wav, sr = sf.read(path, dtype="float32")
    lead, trail = (np.zeros(int(rng.uniform(a, b) * sr), np.float32) for a, b in ((0.05, 0.3), (0.0, 0.2)))
    x = np.concatenate([lead, wav, trail])
    x = x + (10 ** (rng.uniform(-70, -50) / 20) * rng.standard_normal(len(x))).astype(np.float32)
    sf.write(path, np.clip(x, -1.0, 1.0), sr, subtype="PCM_16")
    return len(x) / sr


def merge(plan: dict[str, list[Utt]], corpus_dir: Path, data_dir: Path, nj: int) -> str:
    """Join the jobs' tables into DATA/<subset>/ with spk2utt; fails if a job is missing."""
    lines = []
    for subset, utts in plan.items():
        tables: dict[str, dict[str, str]] = {n: {} for n in ("wav.scp", "text", "utt2spk", "utt2dur")}
        for job in range(1, nj + 1):
            share = job_share(plan, nj, job)[subset]
            split = _split_dir(corpus_dir, nj, job, subset)
            if not _job_done(split, share):
                raise S2SError(f"{split}: job {job} of {nj} has not finished (or was run with other "
                               f"options); run: python local/make_corpus.py --nj {nj} --job {job} "
                               f"with the same options")
            for name in tables:
                tables[name].update(read_table(split / name))
        for path in tables["wav.scp"].values():
            if not Path(path).is_file():
                raise S2SError(f"{path}: wav file missing; rerun the jobs (remove {corpus_dir}/split{nj})")
        out = data_dir / subset
        for name, table in tables.items():
            write_table(out / name, table)
        write_table(out / "spk2utt", utt2spk_to_spk2utt(tables["utt2spk"]))
        hours = sum(float(d) for d in tables["utt2dur"].values()) / 3600
        vocab = {w for t in tables["text"].values() for w in t.split()}
        lines.append(f"{out}: {len(utts)} utterances, {hours:.3f} h, "
                     f"{len(set(tables['utt2spk'].values()))} speakers, {len(vocab)} words")
    return "\n".join(lines)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="make_corpus.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus-dir", type=Path, default=Path("corpus"))
    p.add_argument("--data-dir", type=Path, default=Path("data"))
    p.add_argument("--num-train", type=int, default=3000)
    p.add_argument("--num-dev", type=int, default=300)
    p.add_argument("--num-test", type=int, default=300)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--utts-per-speaker", type=int, default=30)
    p.add_argument("--nj", type=int, default=1, help="number of jobs (worker processes without --job)")
    p.add_argument("--job", type=int, help="run only this job (1..nj); then --merge")
    p.add_argument("--merge", action="store_true", help="only join finished jobs into DATA")
    return p


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    try:
        if args.nj < 1:
            raise S2SError(f"--nj must be at least 1, got {args.nj}")
        plan = make_plan(args.num_train, args.num_dev, args.num_test, args.seed, args.utts_per_speaker)
        corpus_dir = args.corpus_dir.resolve()
        start = time.time()
        if args.job is not None:
            print(run_job(plan, corpus_dir, args.nj, args.job, args.seed), file=sys.stderr)
            return 0
        if not args.merge:
            with ProcessPoolExecutor(args.nj) as pool:
                futures = [pool.submit(run_job, plan, corpus_dir, args.nj, j, args.seed)
                           for j in range(1, args.nj + 1)]
                for f in futures:
                    print(f.result(), file=sys.stderr)
        print(merge(plan, corpus_dir, args.data_dir, args.nj), file=sys.stderr)
        if not args.merge:
            print(f"make_corpus.py: done in {time.time() - start:.1f} s", file=sys.stderr)
    except S2SError as e:
        print(f"make_corpus.py: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
