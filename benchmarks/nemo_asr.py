"""Acoustic-model inference on CPU: NeMo's QuartzNet 15x5 and Jasper 10x5 against s2s's (eager and ONNX).

    python benchmarks/nemo_asr.py [--models quartznet15x5,jasper10x5] [--seconds 20] [--threads 1,2]

NeMo (``nemo-toolkit[asr]``) is not an s2s dependency: the script restarts itself in a venv that
benchmarks/peers.py makes for it (benchmarks/.peers/nemo, which also sees the project's .venv),
installed on first use. NeMo's model is built from its own modules with the architecture of s2s's
preset (``AudioToMelSpectrogramPreprocessor`` with 64 mel bins and per-feature normalisation,
``ConvASREncoder`` with the preset's blocks translated to NeMo's ``jasper`` list: filters, repeat,
kernel, stride, dilation, dropout, residual, dense residual, separable; ``ConvASRDecoder`` to 29
classes); the parameter counts are asserted equal to s2s's (front end and normalisation have
none in either). Random weights in both (speed does not depend on them). Each computes the CTC
log-probabilities of the same utterance (espeak-ng speech, ``--seconds`` long) from the waveform,
front end included, in eval mode without gradients: NeMo's ``forward`` (preprocessor, encoder,
decoder), s2s eagerly (``Recognizer``) and through its ONNX export run by ONNX Runtime
(s2s-export's code), in turns, best of ``--repeats``, at each thread count.

Ends with ``RESULT <model>_<threads>t_speedup_eager=... <model>_<threads>t_speedup_onnx=...``
(NeMo's seconds / s2s's) and the real-time factors.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


def nemo_model(preset_blocks, vocab_size: int):
    """NeMo's preprocessor + ConvASREncoder + ConvASRDecoder for an s2s block list (eval mode)."""
    import torch
    from nemo.collections.asr.modules import AudioToMelSpectrogramPreprocessor, ConvASRDecoder, ConvASREncoder

    from s2s.models.conv import parse_blocks

    jasper = []
    for b in parse_blocks(preset_blocks, "preset"):
        jasper.append({"filters": b.filters, "repeat": b.repeat, "kernel": [b.kernel], "stride": [b.stride],
                       "dilation": [b.dilation], "dropout": b.dropout, "residual": b.residual or b.dense_residual,
                       "residual_dense": b.dense_residual, "separable": b.separable})
    pre = AudioToMelSpectrogramPreprocessor(sample_rate=16000, features=64, window_size=0.02, window_stride=0.01,
                                            n_fft=512, normalize="per_feature", dither=0.0, pad_to=0)
    enc = ConvASREncoder(feat_in=64, activation="relu", conv_mask=True, jasper=jasper)
    dec = ConvASRDecoder(feat_in=jasper[-1]["filters"], num_classes=vocab_size - 1)  # NeMo adds the blank

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.pre, self.enc, self.dec = pre, enc, dec

        def forward(self, wav, lengths):
            feats, flen = self.pre(input_signal=wav, length=lengths)
            hidden, hlen = self.enc(audio_signal=feats, length=flen)
            return self.dec(encoder_output=hidden), hlen

    return Model().eval()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="quartznet15x5,jasper10x5")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    from peers import reexec_with

    reexec_with("nemo", ["nemo-toolkit[asr]"], ["nemo"])
    import numpy as np
    import onnxruntime as ort
    import torch
    from inference import checkpoint, speech

    from s2s.decode.inference import Recognizer
    from s2s.export import export_model
    from s2s.models.conv import FAMILY_PRESETS

    fields, rows = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wav = speech(a.seconds, tmp)
        audio_s = len(wav) / 16000
        x = torch.from_numpy(wav)[None]
        n = torch.tensor([len(wav)])
        for name in a.models.split(","):
            family, preset = {"quartznet15x5": ("quartznet", "quartznet15x5"),
                              "jasper10x5": ("jasper", "jasper10x5dr")}[name]
            ckpt = checkpoint(name, tmp)
            rec = Recognizer.load(ckpt)
            s2s_params = sum(p.numel() for p in rec.model.parameters())
            torch.manual_seed(0)
            nemo = nemo_model(FAMILY_PRESETS[family][preset](), len(rec.vocab))
            nemo_params = sum(p.numel() for p in nemo.parameters())
            assert nemo_params == s2s_params, f"{name}: NeMo {nemo_params:,} parameters, s2s {s2s_params:,}"
            export_model(ckpt, "onnx", tmp / f"{name}.onnx", check=False)
            for threads in (int(t) for t in a.threads.split(",")):
                torch.set_num_threads(threads)
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = threads
                opts.inter_op_num_threads = 1
                sess = ort.InferenceSession(str(tmp / f"{name}.onnx"), opts, providers=["CPUExecutionProvider"])
                feeds = {sess.get_inputs()[0].name: wav[None], sess.get_inputs()[1].name: np.array([len(wav)])}
                runs = {"nemo": lambda: nemo(x, n), "s2s": lambda: rec.model(x, n),
                        "s2s_onnx": lambda: sess.run(None, feeds)}
                best = {k: float("inf") for k in runs}
                with torch.inference_mode():
                    for fn in runs.values():
                        fn()  # warm-up
                    for _ in range(a.repeats):
                        for k, fn in runs.items():  # in turns
                            t0 = time.perf_counter()
                            fn()
                            best[k] = min(best[k], time.perf_counter() - t0)
                rtf = {k: v / audio_s for k, v in best.items()}
                rows.append(f"| {name} | {s2s_params / 1e6:.1f} M | {threads} | {rtf['nemo']:.4f} | {rtf['s2s']:.4f} | "
                            f"{rtf['s2s_onnx']:.4f} | {best['nemo'] / best['s2s']:.2f}x | "
                            f"{best['nemo'] / best['s2s_onnx']:.2f}x |")
                tag = f"{name}_{threads}t"
                fields.update({f"{tag}_speedup_eager": best["nemo"] / best["s2s"],
                               f"{tag}_speedup_onnx": best["nemo"] / best["s2s_onnx"],
                               f"{tag}_rtf_nemo": rtf["nemo"], f"{tag}_rtf_s2s": rtf["s2s"],
                               f"{tag}_rtf_s2s_onnx": rtf["s2s_onnx"]})
    import nemo

    print(f"{audio_s:.0f} s of speech; RTF = seconds per second of audio; NeMo {nemo.__version__}, "
          f"torch {torch.__version__}, onnxruntime {ort.__version__}")
    print("| model | parameters | threads | NeMo | s2s eager | s2s ONNX | s2s eager vs NeMo | s2s ONNX vs NeMo |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print("RESULT " + " ".join(f"{k}={v:.4g}" for k, v in fields.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
