#!/usr/bin/env python3
"""The corpus TTS's evaluation and experiment helpers (local/tts.sh, local/syn_ratio.sh).

Intelligibility: held-out sentences in training voices, rendered by the engines and by
Tacotron 2 with each vocoder, ready for the ASR model to transcribe:

  python local/tts_tools.py plan --sentences data/test/text --voices-from data/tts_train \\
      --num-sentences 50 --num-voices 6 --seed 1 --out exp/tts_eval/plan
  python local/tts_tools.py render --plan exp/tts_eval/plan --system engine --out data/tts_eval_engine
  python local/tts_tools.py render --plan exp/tts_eval/plan --system tts --model exp/tts/model.pt \\
      --vocoder griffin-lim --out data/tts_eval_tts_griffin-lim
  python local/tts_tools.py render --plan exp/tts_eval/plan --system copy --vocoder V \\
      --engine-dir data/tts_eval_engine --out data/tts_eval_copy_V   # the vocoder on the engine's own mels
  python local/tts_tools.py score --plan exp/tts_eval/plan --engine-dir data/tts_eval_engine \\
      --model exp/tts/model.pt --system DATA_DIR:DECODE_DIR ... --out exp/tts_eval/table.md

plan: the sentences are the first --num-sentences of a held-out text (data/test/text: no test
sentence occurs in train, hence none in the TTS training data), each spoken by every one of
--num-voices training voices (half flite, half espeak-ng, drawn with --seed). Utterance ids
are ``<voice>-<sentence id>`` in every rendering, so all data dirs hold the same utterances.

render: the engine speaks with the voice's own settings (as egs/mini's corpus was made); the
TTS speaks as ``tacotron2_<voice>`` with --vocoder. Every file then gets the corpus's
recorded-like silence and noise floor (make_corpus.as_recorded, seeded by the utterance id, so
each rendering of an utterance gets the same), since the ASR model was trained on such files.
The raw renderings (before that) are kept in OUT/raw for the MCD. CPU seconds of the TTS
(text to mel) and of the vocoder are written to OUT/timing.

The synthetic-speech experiment:

  python local/tts_tools.py sentences --num 3000 --exclude data/train/text data/dev/text data/test/text \
      --seed 1 --out data/syn_text/text     # new sentences of the corpus's grammar
  python local/tts_tools.py recorded data/train_syn   # the corpus's silence and noise floor, in place

score: greedy WER/CER of each system's decode dir against the sentences, MCD (s2s.score.mcd)
of each TTS rendering against the engine rendering of the same utterance, CPU seconds per
second of speech, as a markdown table.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

try:
    import s2s  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .` or path.sh
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

import make_corpus  # noqa: E402  (beside this script)
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402

from s2s.data.datadir import read_table, utt2spk_to_spk2utt, write_table  # noqa: E402
from s2s.errors import S2SError, run_main  # noqa: E402

SR = make_corpus.SAMPLE_RATE


def cpu_seconds() -> float:
    """CPU time of this process and of the programs it ran (the engines are subprocesses)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def make_plan(args) -> str:
    sentences = read_table(args.sentences)
    texts = dict(sorted(sentences.items())[: args.num_sentences])
    voices = sorted(set(read_table(Path(args.voices_from) / "utt2spk").values()))
    rng = random.Random(args.seed)
    flite = [v for v in voices if v.startswith("flite_")]
    espeak = [v for v in voices if v.startswith("espeak-ng_")]
    half = args.num_voices // 2
    chosen = sorted(rng.sample(flite, min(half, len(flite))) + rng.sample(espeak, args.num_voices - min(half, len(flite))))
    plan = {f"{v}-{u}": f"{v} {t}" for v in chosen for u, t in texts.items()}
    out = Path(args.out)
    if out.is_file() and read_table(out) == plan:  # unchanged: keep its time, so renderings stay current
        return f"{args.out}: unchanged ({len(texts)} sentences x {len(chosen)} voices)"
    write_table(out, plan)
    return f"{args.out}: {len(texts)} sentences x {len(chosen)} voices ({' '.join(chosen)})"


def read_plan(path) -> list[tuple[str, str, str]]:
    """(utt, voice, text) triples, sorted by utt."""
    out = []
    for utt, rest in read_table(path).items():
        voice, _, text = rest.partition(" ")
        out.append((utt, voice, text))
    return out


MODEL_NAMES = {"tacotron2": "Tacotron 2", "centaur": "Centaur", "fastspeech": "FastSpeech",
               "fastpitch": "FastPitch", "fastspeech_aligner": "FastSpeech (own aligner)",
               "fastpitch_aligner": "FastPitch (own aligner)"}
VOCODER_NAMES = {"griffin-lim": "Griffin-Lim (32 iterations)", "wavenet": "WaveNet", "istft_vocoder": "iSTFT vocoder"}


def _write_dir(out: Path, plan, waves: dict[str, np.ndarray], timing: dict[str, float], info: dict) -> None:
    raw, wav_dir = out / "raw", (out / "wav").resolve()
    raw.mkdir(parents=True, exist_ok=True)
    wav_dir.mkdir(parents=True, exist_ok=True)
    tables = {"wav.scp": {}, "text": {}, "utt2spk": {}, "utt2dur": {}}
    for utt, voice, text in plan:
        sf.write(raw / f"{utt}.wav", np.clip(waves[utt], -1, 1), SR, subtype="PCM_16")
        path = wav_dir / f"{utt}.wav"
        sf.write(path, np.clip(waves[utt], -1, 1), SR, subtype="PCM_16")
        dur = make_corpus.as_recorded(str(path), 0, utt)
        tables["wav.scp"][utt] = str(path)
        tables["text"][utt] = text
        tables["utt2spk"][utt] = voice
        tables["utt2dur"][utt] = f"{dur:.4f}"
    for name, table in tables.items():
        write_table(out / name, table)
    write_table(out / "spk2utt", utt2spk_to_spk2utt(tables["utt2spk"]))
    timing["audio_s"] = sum(len(waves[u]) for u, _, _ in plan) / SR
    write_table(out / "timing", {k: f"{v:.3f}" for k, v in timing.items()})
    write_table(out / "info", info)


def render(args) -> str:
    from s2s.synth import get_synthesizer, resample

    plan = read_plan(args.plan)
    out = Path(args.out)
    waves: dict[str, np.ndarray] = {}
    timing = {"tts_cpu_s": 0.0, "vocoder_cpu_s": 0.0}
    info = {"system": args.system, "model": "-", "vocoder": "-"}
    by_voice: dict[str, list[tuple[str, str]]] = {}
    for utt, voice, text in plan:
        by_voice.setdefault(voice, []).append((utt, text))
    if args.system == "engine":
        for voice, items in sorted(by_voice.items()):
            backend = voice.split("_")[0]
            t0 = cpu_seconds()
            for (utt, _), wav in zip(items, get_synthesizer(backend).synthesize([t for _, t in items], voice, SR)):
                waves[utt] = wav
            timing["tts_cpu_s"] += cpu_seconds() - t0
    elif args.system == "tts":
        synth = get_synthesizer(args.model, vocoder=args.vocoder, seed=args.seed)
        name = synth.meta["model"]["name"]
        if name == "fastspeech" and synth.meta["model"]["args"].get("pitch"):
            name = "fastpitch"
        if name in ("fastspeech", "fastpitch") and synth.meta["model"]["args"].get("aligner"):
            name += "_aligner"
        info.update(model=name, vocoder=synth.vocoder.name)
        for voice, items in sorted(by_voice.items()):
            torch.manual_seed(args.seed)
            t0 = cpu_seconds()
            mels = [synth.mel(text, f"tacotron2_{voice}")[0] for _, text in items]
            t1 = cpu_seconds()
            wavs = synth.vocoder.generate(mels, seed=args.seed)
            timing["tts_cpu_s"] += t1 - t0
            timing["vocoder_cpu_s"] += cpu_seconds() - t1
            wavs = resample(wavs, synth.model_sample_rate, SR)
            waves.update({utt: w for (utt, _), w in zip(items, wavs)})
    else:  # copy synthesis: the vocoder on the log-mel of the engine's own rendering
        from s2s.data.features import build_frontend
        from s2s.synth.vocoders import load_vocoder

        tts_conf = torch.load(args.model, map_location="cpu", weights_only=False)["meta"]["frontend_conf"]
        frontend = build_frontend(tts_conf)
        vocoder = load_vocoder(args.vocoder, tts_conf)
        info["vocoder"] = vocoder.name
        for voice, items in sorted(by_voice.items()):
            mels = [frontend.extract(sf.read(Path(args.engine_dir) / "raw" / f"{utt}.wav", dtype="float32")[0], SR)
                    for utt, _ in items]
            t0 = cpu_seconds()
            wavs = vocoder.generate(mels, seed=args.seed)
            timing["vocoder_cpu_s"] += cpu_seconds() - t0
            waves.update({utt: w for (utt, _), w in zip(items, resample(wavs, vocoder.sample_rate, SR))})
    _write_dir(out, plan, waves, timing, info)
    return f"{out}: {len(plan)} utterances, {timing['audio_s']:.1f} s of speech"


def score(args) -> str:
    from s2s.data.features import build_frontend
    from s2s.score.mcd import mcd
    from s2s.score.wer import score_texts
    from s2s.tasks.tts import trim_silence

    plan = read_plan(args.plan)
    ref = {utt: text for utt, _, text in plan}
    tts_conf = torch.load(args.model, map_location="cpu", weights_only=False)["meta"]["frontend_conf"]
    frontend = build_frontend(tts_conf)

    def raw_mel(d, utt):
        wav = sf.read(Path(d) / "raw" / f"{utt}.wav", dtype="float32")[0]
        return trim_silence(frontend.extract(wav, SR), 40.0, margin=0)

    engine_mels = {utt: raw_mel(args.engine_dir, utt) for utt in ref}
    rows = ["| system | vocoder | WER % | CER % | MCD dB | CPU s per s of speech (text to mel + vocoder) |",
            "|---|---|---|---|---|---|"]
    for spec in args.system:
        data_dir, _, decode_dir = spec.partition(":")
        info = read_table(Path(data_dir) / "info")
        hyp = read_table(Path(decode_dir) / "text", allow_empty_value=True)
        missing = sorted(set(ref) - set(hyp))
        if missing:
            raise S2SError(f"{decode_dir}/text: no hypothesis for {len(missing)} utterances (e.g. {missing[0]}); "
                           f"decode {data_dir} again")
        rep = score_texts(ref, hyp)
        timing = {k: float(v) for k, v in read_table(Path(data_dir) / "timing").items()}
        per_s = (timing["tts_cpu_s"] + timing["vocoder_cpu_s"]) / timing["audio_s"]
        cpu = f"{per_s:.3f} ({timing['tts_cpu_s'] / timing['audio_s']:.3f} + {timing['vocoder_cpu_s'] / timing['audio_s']:.3f})"
        mcd_cell = "-"
        if Path(data_dir).resolve() != Path(args.engine_dir).resolve():
            mcd_cell = f"{np.mean([mcd(raw_mel(data_dir, u), engine_mels[u]) for u in ref]):.2f}"
        system = {"engine": "engines (flite, espeak-ng)", "copy": "engine's mels (copy synthesis)"}.get(
            info["system"], MODEL_NAMES.get(info["model"], info["model"]))
        vocoder = VOCODER_NAMES.get(info["vocoder"], info["vocoder"])
        rows.append(f"| {system} | {vocoder} | {rep.wer:.2f} | {rep.cer:.2f} | {mcd_cell} | {cpu} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(rows) + "\n")
    return "\n".join(rows)


def results(args) -> str:
    """The "Speech synthesis" block of RESULTS.md: what was measured, then the table."""
    from s2s.score import replace_block

    plan = read_plan(args.plan)
    voices = sorted({v for _, v, _ in plan})
    body = "\n".join([
        "## Speech synthesis: intelligibility of the corpus TTS",
        "",
        f"{len(plan) // len(voices)} held-out sentences (the first of data/test/text; none is in train) spoken by "
        f"{len(voices)} training voices ({', '.join(voices)}), {len(plan)} utterances per row; every file "
        "given the corpus's recorded-like silence and noise floor; transcribed by exp/train/model.pt (greedy). "
        "MCD: mel-cepstral distortion (c1-c24 of the TTS log-mel, DTW-aligned, silence trimmed) against the "
        "engine's rendering of the same utterance (s2s.score.mcd). CPU seconds of one thread per second of "
        "speech, text to mel + vocoder (local/tts.sh --step eval, local/tts_tools.py).",
        "",
        Path(args.table).read_text().rstrip(),
    ])
    replace_block(args.results, "tts-intelligibility", body)
    return f"{args.results}: speech synthesis table written"


def sentences(args) -> str:
    """--num new sentences of the corpus grammar (half digit strings, half commands), none in --exclude."""
    seen = set()
    for f in args.exclude:
        seen |= set(read_table(f).values())
    texts = make_corpus.new_texts(random.Random(args.seed), args.num, seen, "synthetic")
    write_table(Path(args.out), {f"syn{i:06d}": t for i, t in enumerate(texts)})
    return f"{args.out}: {len(texts)} sentences, none in {' '.join(args.exclude)}"


def recorded(args) -> str:
    """Give every wav of a data dir the corpus's recorded-like silence and noise floor, in place."""
    d = Path(args.data)
    durs = {utt: f"{make_corpus.as_recorded(path, args.seed, utt):.4f}" for utt, path in read_table(d / "wav.scp").items()}
    write_table(d / "utt2dur", durs)
    return f"{d}: {len(durs)} files as recorded"


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("plan")
    a.add_argument("--sentences", required=True)
    a.add_argument("--voices-from", required=True)
    a.add_argument("--num-sentences", type=int, default=50)
    a.add_argument("--num-voices", type=int, default=6)
    a.add_argument("--seed", type=int, default=1)
    a.add_argument("--out", required=True)
    r = sub.add_parser("render")
    r.add_argument("--plan", required=True)
    r.add_argument("--system", choices=("engine", "tts", "copy"), required=True)
    r.add_argument("--model", help="TTS checkpoint (tts; copy: its front end)")
    r.add_argument("--vocoder", default="griffin-lim")
    r.add_argument("--engine-dir", help="copy: the engine rendering")
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--out", required=True)
    s = sub.add_parser("score")
    s.add_argument("--plan", required=True)
    s.add_argument("--engine-dir", required=True)
    s.add_argument("--model", required=True, help="TTS checkpoint (its front end computes the MCD's mels)")
    s.add_argument("--system", action="append", required=True, metavar="DATA_DIR:DECODE_DIR")
    s.add_argument("--out", required=True)
    n = sub.add_parser("sentences")
    n.add_argument("--num", type=int, required=True)
    n.add_argument("--exclude", nargs="+", default=[])
    n.add_argument("--seed", type=int, default=1)
    n.add_argument("--out", required=True)
    c = sub.add_parser("recorded")
    c.add_argument("data")
    c.add_argument("--seed", type=int, default=1)
    w = sub.add_parser("results")
    w.add_argument("--table", required=True)
    w.add_argument("--plan", required=True)
    w.add_argument("--results", default="RESULTS.md")
    return p


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    fn = {"plan": make_plan, "render": render, "score": score, "results": results,
          "sentences": sentences, "recorded": recorded}[args.cmd]
    return run_main("tts_tools.py", lambda: print(fn(args)))


if __name__ == "__main__":
    sys.exit(main())
