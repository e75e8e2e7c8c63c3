"""Speech synthesis speed on the CPU: real-time factor of the TTS model and of each vocoder.

    .venv/bin/python benchmarks/synthesis.py [--exp egs/mini/exp] [--sentences 8] [--reps 2]

Models: egs/mini's stage-8 checkpoints (``EXP/tts/model.pt``, ``EXP/vocoder_wavenet/model.pt``,
``EXP/vocoder_istft/model.pt``, ``EXP/centaur/model.pt`` when present); a missing one is built from
its egs/mini config with random weights and said so (speed does not depend on the weights, except
where the TTS stops: an untrained TTS is run for as many decoder steps as the sentence's engine
rendering lasts). Sentences: the first --sentences of egs/mini's data/test/text (digit strings and
home-automation commands, about 2 s each), spoken by the first training voice.

For 1 and 2 threads (each in its own process, torch and NumPy limited to that many), each part is
timed on the same sentences, best of --reps: text to mel (Tacotron 2, and Centaur if trained), and
each vocoder on the same mels: Griffin-Lim (32 iterations; the reference), the iSTFT vocoder, and
the WaveNet sentence by sentence and with the sentences in one batch. The real-time factor (RTF)
is seconds of CPU wall time per second of speech (below 1: faster than real time); ``x_gl`` is a
vocoder's speed relative to Griffin-Lim measured in the same process.
Last line: ``RESULT rtf_<part>_<threads>t=... x_gl_<vocoder>_<threads>t=...``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _load_or_build(path: Path, config: Path, frontend_conf: dict, notes: list[str]):
    """The checkpoint's model, or one built from ``config`` with random weights."""
    import yaml

    from s2s.models.checkpoint import load_model
    from s2s.models.registry import build_model

    if path.is_file():
        return load_model(path)[0], True
    conf = yaml.safe_load(config.read_text())
    notes.append(f"{path} missing: {config.name} with random weights")
    from s2s.data.features import build_frontend

    fe = build_frontend(frontend_conf)
    args = dict(conf.get("model_conf") or {})
    if conf["task"] == "vocoder":
        args.update(n_mels=fe.conf["num_mel_bins"], hop=fe.hop, sample_rate=fe.sample_rate)
        return build_model(conf["vocoder"], args).eval(), False
    from s2s.data.text import tts_vocabulary

    args.update(n_mels=fe.conf["num_mel_bins"], n_speakers=2, n_symbols=len(tts_vocabulary()))
    return build_model(conf.get("model", "tacotron2"), args).eval(), False


def measure(args) -> dict:
    import numpy as np
    import torch
    import yaml

    from s2s.data.datadir import read_table
    from s2s.data.features import build_frontend
    from s2s.data.text import text_to_ids, tts_vocabulary
    from s2s.synth.vocoders import GriffinLimVocoder

    torch.set_num_threads(args.threads)
    exp, conf_dir = Path(args.exp), ROOT / "egs/mini/conf"
    frontend_conf = yaml.safe_load((conf_dir / "tts_logmel.yaml").read_text())
    fe = build_frontend(frontend_conf)
    notes: list[str] = []
    texts = list(read_table(ROOT / "egs/mini/data/test/text").values())[: args.sentences] \
        if (ROOT / "egs/mini/data/test/text").is_file() else \
        ["set a timer for twelve hours", "six nine eight six", "please set an alarm for three in the evening",
         "eight four three three six", "can you pause the timer", "turn off the lights in the kitchen",
         "what is the weather like tomorrow", "two five"][: args.sentences]
    vocab = tts_vocabulary()
    out: dict[str, float] = {}
    mels = None
    for name, cfg in (("tacotron2", "tts.yaml"), ("centaur", "centaur.yaml")):
        ckpt = exp / ("tts" if name == "tacotron2" else name) / "model.pt"
        if name == "centaur" and not ckpt.is_file():
            continue
        model, trained = _load_or_build(ckpt, conf_dir / cfg, frontend_conf, notes)
        best, got = float("inf"), []
        for _ in range(args.reps):
            torch.manual_seed(0)
            t0 = time.perf_counter()
            got = []
            for text in texts:
                ids = torch.tensor(text_to_ids(text, vocab))
                steps = 25 * len(ids) // model.r
                # untrained: as many steps as about 13 characters a second of speech needs
                min_steps = 0 if trained else int(len(ids) / 13 / fe.frame_shift / model.r)
                got.append(model.infer(ids, 0, max_steps=max(steps, min_steps + 1), min_steps=min_steps)[0])
            best = min(best, time.perf_counter() - t0)
        audio_s = sum(m.shape[0] for m in got) * fe.frame_shift
        out[f"rtf_{name}"] = best / audio_s
        mels = mels or got
    audio_s = sum(m.shape[0] for m in mels) * fe.frame_shift
    out["audio_s"] = audio_s
    gl = GriffinLimVocoder(frontend_conf, n_iter=32)
    wavenet, _ = _load_or_build(exp / "vocoder_wavenet/model.pt", conf_dir / "vocoder_wavenet.yaml", frontend_conf, notes)
    istft, _ = _load_or_build(exp / "vocoder_istft/model.pt", conf_dir / "vocoder_istft.yaml", frontend_conf, notes)
    runs = {"griffinlim": lambda: [gl.generate([m]) for m in mels],
            "istft": lambda: [istft.generate([m]) for m in mels],
            "wavenet": lambda: [wavenet.generate([m]) for m in mels[: args.wavenet_sentences]],
            "wavenet_batch": lambda: wavenet.generate(mels)}
    share = {"wavenet": sum(m.shape[0] for m in mels[: args.wavenet_sentences]) * fe.frame_shift / audio_s}
    for name, fn in runs.items():
        best = float("inf")
        for _ in range(1 if name.startswith("wavenet") else args.reps):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        out[f"rtf_{name}"] = best / (audio_s * share.get(name, 1.0))
    for name in ("istft", "wavenet", "wavenet_batch"):
        out[f"x_gl_{name}"] = out["rtf_griffinlim"] / out[f"rtf_{name}"]
    out["notes"] = notes
    out["sanity"] = float(np.isfinite(np.concatenate(istft.generate(mels[:1]))).all())
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", default=str(ROOT / "egs/mini/exp"))
    p.add_argument("--sentences", type=int, default=8)
    p.add_argument("--wavenet-sentences", type=int, default=2, help="sentences the WaveNet speaks one by one")
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--threads", type=int, default=0, help="(internal) measure in this process with N threads")
    args = p.parse_args()
    if args.threads:
        print(json.dumps(measure(args)))
        return 0
    results = {}
    for n in (1, 2):
        env = dict(os.environ, OMP_NUM_THREADS=str(n), OPENBLAS_NUM_THREADS=str(n), MKL_NUM_THREADS=str(n))
        proc = subprocess.run([sys.executable, __file__, "--exp", args.exp, "--sentences", str(args.sentences),
                               "--wavenet-sentences", str(args.wavenet_sentences), "--reps", str(args.reps),
                               "--threads", str(n)], env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        results[n] = json.loads(proc.stdout.strip().splitlines()[-1])
    r1 = results[1]
    print(f"{args.sentences} sentences, {r1['audio_s']:.1f} s of speech; RTF = seconds per second of speech")
    for note in r1["notes"]:
        print(f"note: {note}")
    print(f"{'part':<28} {'1 thread':>10} {'2 threads':>10}")
    parts = [k for k in r1 if k.startswith("rtf_")]
    for k in parts:
        print(f"{k[4:]:<28} {results[1][k]:>10.4f} {results[2][k]:>10.4f}")
    fields = {f"{k}_{n}t": results[n][k] for n in (1, 2) for k in r1 if k.startswith(("rtf_", "x_gl_"))}
    print("RESULT " + " ".join(f"{k}={v:.4g}" for k, v in fields.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
