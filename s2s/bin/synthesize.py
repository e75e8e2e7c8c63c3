"""Synthesize a Kaldi ``text`` file with flite, espeak-ng or festival into wavs + a data dir.

  python -m s2s.bin.synthesize --backend espeak-ng --text data/lm_text/text --out-dir data/syn \
      [--speakers ID ... | --num-speakers 8 --seed 1] [--all-speakers] [--sample-rate 16000] \
      [--nj N --job J]

Each text line ``utt words...`` is normalised (numbers to words, punctuation and
non-ASCII removed; counts reported) and spoken by one speaker, the speakers taken in
turn, or by every speaker with --all-speakers. New utterance ids are ``<speaker>-<utt>``
so sorting keeps speakers together. Wavs go to OUT/wav/; the tables (wav.scp with
absolute paths, text, utt2spk, spk2utt, utt2dur) to OUT, or with --nj N to
OUT/split<N>/<J> for this job's share, to be joined with
``utils/combine_data.sh OUT OUT/split<N>/*``. List speaker ids with --list-speakers.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from pathlib import Path

from s2s.data.datadir import read_table, utt2spk_to_spk2utt, write_table
from s2s.errors import S2SError
from s2s.synth import BACKENDS, get_synthesizer, normalize_text, synthesize_to_files


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="synthesize", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", required=True, choices=BACKENDS)
    p.add_argument("--text", type=Path, help="Kaldi text file: utt words...")
    p.add_argument("--out-dir", type=Path)
    p.add_argument("--speakers", nargs="+", metavar="ID", help="speaker ids (default: --num-speakers random ones)")
    p.add_argument("--num-speakers", type=int, default=8, help="random speakers drawn from the default grid")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--all-speakers", action="store_true", help="every speaker says every line")
    p.add_argument("--sample-rate", type=int, default=16000)
    p.add_argument("--nj", type=int, default=1, help="number of jobs the work is split into")
    p.add_argument("--job", type=int, default=1, help="this job's number, 1..nj")
    p.add_argument("--list-speakers", action="store_true", help="print the backend's speaker ids and exit")
    return p


def plan(lines: dict[str, str], speakers: list[str], all_speakers: bool) -> list[tuple[str, str, str]]:
    """(new utt id, speaker, text) for every line, sorted by utt id."""
    out = []
    for i, (utt, text) in enumerate(sorted(lines.items())):
        for spk in speakers if all_speakers else [speakers[i % len(speakers)]]:
            out.append((f"{spk}-{utt}", spk, text))
    return sorted(out)


def choose_speakers(synth, args) -> list[str]:
    """The speakers of this run: --speakers (checked before any work) or a seeded draw from the grid."""
    if args.speakers:
        speakers = sorted(set(args.speakers))
        for spk in speakers:
            synth.speaker(spk)  # fail before any work on a bad id
        return speakers
    grid = synth.speakers()
    return sorted(random.Random(args.seed).sample(grid, min(args.num_speakers, len(grid))))


def job_share(args, speakers: list[str]) -> tuple[list[tuple[str, str, str]], Counter, int]:
    """This job's (utt, speaker, text) triples from --text, normalised; also the
    normalisation counts and the number of lines left empty (skipped)."""
    if args.text is None or args.out_dir is None:
        raise S2SError("--text and --out-dir are required (or use --list-speakers)")
    if not 1 <= args.job <= args.nj:
        raise S2SError(f"--job {args.job} is outside 1..{args.nj}")
    changes: Counter = Counter()
    lines, skipped = {}, 0
    for utt, raw in read_table(args.text, allow_empty_value=True).items():
        norm = normalize_text(raw)
        changes.update(norm.changes)
        if norm.text:
            lines[utt] = norm.text
        else:
            skipped += 1
    return plan(lines, speakers, args.all_speakers)[args.job - 1::args.nj], changes, skipped


def write_job_tables(args, tables: dict[str, dict[str, str]], n_speakers: int, changes: Counter,
                     skipped: int, extra: str = "") -> str:
    """Write this job's Kaldi tables (OUT or OUT/split<N>/<J>) and return the summary line."""
    data_dir = args.out_dir if args.nj == 1 else args.out_dir / f"split{args.nj}" / str(args.job)
    for name, table in tables.items():
        write_table(data_dir / name, table)
    write_table(data_dir / "spk2utt", utt2spk_to_spk2utt(tables["utt2spk"]))
    hours = sum(float(d) for d in tables["utt2dur"].values()) / 3600
    changed = ", ".join(f"{n} {k}" for k, n in sorted(changes.items())) or "nothing"
    return (f"{data_dir}: {len(tables['utt2spk'])} utterances ({hours:.3f} h) from {n_speakers} speakers; "
            f"{extra}normalisation changed {changed}; skipped {skipped} lines empty after normalisation")


def run(args) -> str:
    synth = get_synthesizer(args.backend)
    if args.list_speakers:
        print("\n".join(synth.speakers()))
        return ""
    speakers = choose_speakers(synth, args)
    share, changes, skipped = job_share(args, speakers)
    tables = synthesize_to_files(share, args.out_dir / "wav", args.sample_rate)
    return write_job_tables(args, tables, len(speakers), changes, skipped)


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    try:
        summary = run(args)
    except S2SError as e:
        print(f"synthesize: error: {e}", file=sys.stderr)
        return 1
    if summary:
        print(f"synthesize: {summary}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
