"""The s2s package. Install with tools/setup.sh (which puts a CPU torch first on CPU machines)."""

from setuptools import find_packages, setup

ENTRY_POINTS = {
    "s2s-train": "s2s.bin.train:main",
    "s2s-decode": "s2s.bin.decode:main",
    "s2s-score": "s2s.bin.score:main",
    "s2s-transcribe": "s2s.bin.transcribe:main",
    "s2s-export": "s2s.bin.export:main",
    "s2s-compute-feats": "s2s.bin.compute_feats:main",
    "s2s-compute-cmvn": "s2s.bin.compute_cmvn:main",
    "s2s-prepare-tokens": "s2s.bin.prepare_tokens:main",
    "s2s-average-checkpoints": "s2s.bin.average_checkpoints:main",
    "s2s-tune-lm": "s2s.bin.tune_lm:main",
    "s2s-train-ngram": "s2s.bin.train_ngram:main",
    "s2s-rescore": "s2s.bin.rescore:main",
    "s2s-synthesize": "s2s.bin.synthesize:main",
    "s2s-tts-durations": "s2s.bin.tts_durations:main",
    "s2s-tts-pitch": "s2s.bin.tts_pitch:main",
    "s2s-evaluate-classifier": "s2s.bin.evaluate_classifier:main",
    "s2s-download": "s2s.bin.download:main",
    "s2s-translate": "s2s.bin.translate:main",
}

setup(
    name="s2s",
    version="0.1.0",
    description="Speech recognition, keyword spotting and synthesis recipes in PyTorch (successor of OpenSeq2Seq)",
    packages=find_packages(include=["s2s", "s2s.*"]),
    python_requires=">=3.10",
    install_requires=[
        # torch is not pinned to a CUDA build: tools/setup.sh installs the CPU wheel
        # on machines without a GPU before this package, and pip keeps it.
        "torch>=2.1",
        "numpy",
        "kaldiio>=2.18",
        "kaldi-native-fbank>=1.18",
        "sentencepiece",
        "pyyaml",
        "jiwer>=3.0",
        "soundfile",
        "soxr",
        "tqdm",
        "tensorboard",
        "matplotlib",
        "webrtcvad-wheels",   # voice activity detection for long recordings (s2s-transcribe)
        "praat-parselmouth",  # Praat's pitch tracker: per-symbol F0 for FastPitch (s2s.synth.pitch)
    ],
    extras_require={
        "lm": ["kenlm", "flashlight-text", "pyctcdecode"],
        "mt": ["sacrebleu"],
        "images": ["scikit-learn"],  # egs/mini_image: the UCI digits scikit-learn ships
        "export": ["onnx", "onnxruntime", "sherpa-onnx"],
        "test": ["pytest", "pytest-xdist", "pytest-timeout", "ruff", "import-linter"],
    },
    entry_points={"console_scripts": [f"{k}={v}" for k, v in ENTRY_POINTS.items()]},
)
