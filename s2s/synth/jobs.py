"""A synthesis job: which lines, which speakers, and the Kaldi tables written for them.

Used by ``s2s.bin.synthesize`` with flite, espeak-ng, festival or a Tacotron 2 checkpoint.
``args`` is any object with the job's
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


def make_synthesizer(args):
    """The synthesizer ``args.model`` names: an engine, or a TTS checkpoint with its options."""
    from s2s.synth import get_synthesizer
    from s2s.synth.engines import BACKENDS

    if args.model in BACKENDS:
        return get_synthesizer(args.model)
    return get_synthesizer(args.model, device=args.device, vocoder=args.vocoder,
                           griffin_lim_iters=args.griffin_lim_iters, seed=args.seed,
                           style_ref=args.style_ref, style_weights=args.style_weights)


def list_speakers(args) -> list[str]:
    return make_synthesizer(args).speakers()


def synthesize_sentence(args) -> str:
    """Speak ``args.sentence`` with ``args.speaker`` into the wav ``args.out``; return the summary line."""
    from s2s.synth.engines import save_wav

    if args.out is None:
        raise S2SError("a sentence needs --out x.wav (or give --text FILE --out-dir DIR for a text file)")
    if args.text is not None:
        raise S2SError("give either a sentence (with --out) or --text FILE (with --out-dir), not both")
    try:
        args.sentence.encode("utf-8")
    except UnicodeEncodeError:
        raise S2SError("the sentence is not valid UTF-8; pass UTF-8 text (check the terminal's locale)") from None
    norm = normalize_text(args.sentence)
    if not norm.text:
        raise S2SError(f"nothing to say in {args.sentence!r}: it has no speakable words after normalisation "
                       f"(letters, numbers)")
    if args.out.is_dir():
        raise S2SError(f"{args.out}: is a directory; give a file name, e.g. {args.out / 'speech.wav'}")
    synth = make_synthesizer(args)
    speaker = args.speaker or synth.speakers()[0]
    wav = synth.synthesize([norm.text], speaker, args.sample_rate)[0]
    save_wav(args.out, wav, args.sample_rate)
    return f"{args.out}: {len(wav) / args.sample_rate:.2f} s, speaker {speaker}, text {norm.text!r}"


def synthesize_job(args) -> str:
    """Run one job of ``s2s.bin.synthesize`` (``args.model``: an engine name or a TTS checkpoint);
    return the summary line. Lines whose TTS decoder hit the step limit without stopping are
    kept and counted."""
    from s2s.synth import synthesize_to_files
    from s2s.synth.engines import BACKENDS

    synth = make_synthesizer(args)
    speakers = choose_speakers(synth, args)
    share, changes, skipped = job_share(args, speakers)
    unstopped = 0

    def count(_n):
        nonlocal unstopped
        unstopped += getattr(synth, "unstopped", 0)

    tables = synthesize_to_files(share, args.out_dir / "wav", args.sample_rate, progress=count,
                                 synth=None if args.model in BACKENDS else synth)
    extra = "" if args.model in BACKENDS else f"{unstopped} reached the decoder step limit; "
    return write_job_tables(args, tables, len(speakers), changes, skipped, extra=extra)
