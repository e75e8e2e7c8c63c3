"""Export: TorchScript and ONNX with the front end inside equal PyTorch on real speech, for every encoder
family; the ONNX engine runs without PyTorch; sherpa-onnx decodes what s2s decodes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from asr_models import FAMILIES, FBANK, LOGMEL, SPECTROGRAM, random_checkpoint, speak, waveform

from s2s.errors import S2SError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    d = tmp_path_factory.mktemp("speech")
    texts = ["turn on the kitchen lights", "what time is it", "play some music please"]
    return [waveform(speak(d / f"u{i}.wav", t)) for i, t in enumerate(texts)]


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_exported_model_equals_pytorch_on_speech(tmp_path, speech, family, fmt):
    from s2s.decode.inference import Recognizer
    from s2s.decode.runtime import OnnxRecognizer, TorchScriptRecognizer
    from s2s.export import export_model

    ckpt = random_checkpoint(tmp_path / "m.pt", family)
    out = tmp_path / ("m.onnx" if fmt == "onnx" else "m.ts")
    res = export_model(ckpt, fmt, out)
    assert res["max_abs_diff"] <= 1e-3
    ref = Recognizer.load(ckpt).logprobs(speech, batch_seconds=1e9)  # one padded batch of three
    exported = (OnnxRecognizer if fmt == "onnx" else TorchScriptRecognizer)(out)
    for batch_seconds in (1e9, 1.0):  # together, and one utterance at a time
        got = exported.logprobs(speech, batch_seconds=batch_seconds)
        for a, b in zip(ref, got):
            assert a.shape == b.shape and a.shape[0] > 10
            # eager features use an FFT, the exported graph a DFT matmul: equal to float32 rounding,
            # which a deep random network amplifies in proportion to its output's scale
            np.testing.assert_allclose(a, b, atol=1e-4 * max(1.0, float(np.abs(a).max())))
    assert exported.vocab.tokens == Recognizer.load(ckpt).vocab.tokens and exported.sample_rate == 16000


@pytest.mark.parametrize("frontend,family", [(LOGMEL, "quartznet"), (SPECTROGRAM, "ds2")])
def test_logmel_and_spectrogram_models_with_utterance_cmvn_export_too(tmp_path, speech, frontend, family):
    from s2s.decode.inference import Recognizer
    from s2s.decode.runtime import OnnxRecognizer
    from s2s.export import export_model

    ckpt = random_checkpoint(tmp_path / "m.pt", family, frontend=frontend, cmvn="utterance")
    export_model(ckpt, "onnx", tmp_path / "m.onnx")
    ref = Recognizer.load(ckpt).logprobs(speech)
    for a, b in zip(ref, OnnxRecognizer(tmp_path / "m.onnx").logprobs(speech)):
        np.testing.assert_allclose(a, b, atol=1e-3)


def test_the_onnx_engine_transcribes_without_importing_torch(tmp_path, speech):
    import soundfile as sf

    from s2s.export import export_model

    ckpt = random_checkpoint(tmp_path / "m.pt", "quartznet")
    export_model(ckpt, "onnx", tmp_path / "m.onnx")
    sf.write(tmp_path / "a.wav", speech[0], 16000)
    code = ("import sys; from s2s.bin.transcribe import main; rc = main(sys.argv[1:]); "
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr); sys.exit(rc)")
    onnx = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m.onnx"), str(tmp_path / "a.wav"),
                           "--engine", "onnx"], capture_output=True, text=True, cwd=ROOT)
    assert onnx.returncode == 0, onnx.stderr
    assert onnx.stderr.strip().endswith("NO-TORCH")
    torch_run = subprocess.run([sys.executable, "-m", "s2s.bin.transcribe", str(ckpt), str(tmp_path / "a.wav")],
                               capture_output=True, text=True, cwd=ROOT)
    assert torch_run.returncode == 0 and onnx.stdout == torch_run.stdout and onnx.stdout.strip()


def test_an_onnx_file_without_s2s_metadata_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    from s2s.decode.runtime import OnnxRecognizer

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(graph), tmp_path / "other.onnx")
    with pytest.raises(S2SError, match=r"other\.onnx: no s2s metadata.*s2s-export"):
        OnnxRecognizer(tmp_path / "other.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not onnx")
    with pytest.raises(S2SError, match=r"junk\.onnx: not a valid ONNX model"):
        OnnxRecognizer(tmp_path / "junk.onnx")


def test_sherpa_onnx_decodes_the_same_text_as_s2s(tmp_path, speech):
    pytest.importorskip("sherpa_onnx")
    from s2s.decode.inference import Recognizer
    from s2s.decode.runtime import load_sherpa
    from s2s.export import export_model

    for cmvn in ("global", "utterance"):
        ckpt = random_checkpoint(tmp_path / f"{cmvn}.pt", "ds2", cmvn=cmvn)
        export_model(ckpt, "sherpa-onnx", tmp_path / f"sherpa_{cmvn}")
        assert json.loads((tmp_path / f"sherpa_{cmvn}" / "sherpa.json").read_text())["feature_dim"] == 40
        rec = Recognizer.load(ckpt)
        sherpa = load_sherpa(tmp_path / f"sherpa_{cmvn}")
        for wav in speech:
            ours = rec.greedy_text(rec.logprobs([wav])[0])
            stream = sherpa.create_stream()
            stream.accept_waveform(16000, wav)
            sherpa.decode_stream(stream)
            assert " ".join(stream.result.text.split()) == ours and len(ours) > 5


def test_sherpa_export_of_a_logmel_model_says_why_not(tmp_path):
    from s2s.export import export_model

    ckpt = random_checkpoint(tmp_path / "m.pt", "quartznet", frontend=LOGMEL, cmvn="utterance")
    with pytest.raises(S2SError, match=r"sherpa-onnx computes its own Kaldi fbank features.*type: 'logmel'"):
        export_model(ckpt, "sherpa-onnx", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_export_cli_writes_the_file_and_reports_the_check(tmp_path):
    ckpt = random_checkpoint(tmp_path / "m.pt", "wav2letter", frontend=dict(FBANK))
    proc = subprocess.run([sys.executable, "-m", "s2s.bin.export", str(ckpt), str(tmp_path / "m.ts"),
                           "--format", "torchscript"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "max |log-prob - PyTorch's|" in proc.stderr and (tmp_path / "m.ts").stat().st_size > 10000
