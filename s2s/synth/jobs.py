"""A synthesis job: which lines, which speakers, and the Kaldi tables written for them.

Shared by ``s2s.bin.synthesize`` (flite, espeak-ng, festival) and
``s2s.bin.synthesize_tts`` (Tacotron 2). ``args`` is any object with the job's
options as attributes (``text``, ``out_dir``, ``speakers``, ``num_speakers``,
``seed``, ``all_speakers``, ``sample_rate``, ``nj``, ``job``): the entry points
pass their parsed arguments.
"""

from __future__ import annotations

import random
from collections import Counter

from s2s.data.datadir import read_table, utt2spk_to_spk2utt, write_table
from s2s.data.text import normalize_text
from s2s.errors import S2SError


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


def synthesize_engine_job(args) -> str:
    """Run one job of ``s2s.bin.synthesize`` with a Debian engine; return the summary line."""
    from s2s.synth import get_synthesizer, synthesize_to_files

    synth = get_synthesizer(args.backend)
    speakers = choose_speakers(synth, args)
    share, changes, skipped = job_share(args, speakers)
    tables = synthesize_to_files(share, args.out_dir / "wav", args.sample_rate)
    return write_job_tables(args, tables, len(speakers), changes, skipped)


def synthesize_tacotron_job(args) -> str:
    """Run one job of ``s2s.bin.synthesize_tts`` with a Tacotron 2 checkpoint; return the summary line.

    Lines whose decoder hit the step limit without stopping are kept and counted."""
    import torch

    from s2s.synth.engines import resample, save_wav
    from s2s.synth.tacotron import TacotronSynthesizer

    synth = TacotronSynthesizer(args.model, device=args.device, griffin_lim_iters=args.griffin_lim_iters,
                                seed=args.seed)
    speakers = choose_speakers(synth, args)
    share, changes, skipped = job_share(args, speakers)
    wav_dir = (args.out_dir / "wav").resolve()
    tables: dict[str, dict[str, str]] = {"wav.scp": {}, "text": {}, "utt2spk": {}, "utt2dur": {}}
    unstopped = 0
    for i, (utt, spk, text) in enumerate(share):
        torch.manual_seed(args.seed * 100003 + args.job * 1009 + i)  # prenet dropout: reproducible
        mel, _, stopped = synth.mel(text, spk)
        unstopped += not stopped
        wav = synth.vocoder(mel.cpu())
        if synth.model_sample_rate != args.sample_rate:
            wav = resample([wav], synth.model_sample_rate, args.sample_rate)[0]
        path = wav_dir / f"{utt}.wav"
        save_wav(path, wav, args.sample_rate)
        tables["wav.scp"][utt] = str(path)
        tables["text"][utt] = text
        tables["utt2spk"][utt] = spk
        tables["utt2dur"][utt] = f"{len(wav) / args.sample_rate:.4f}"
    return write_job_tables(args, tables, len(speakers), changes, skipped,
                            extra=f"{unstopped} reached the decoder step limit; ")
