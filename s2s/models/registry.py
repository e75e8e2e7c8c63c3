"""Registries of the models layer.

- ``ENCODERS``: configs name an encoder (``encoder: quartznet``) and give its
  ``encoder_conf``. Built-in: ``jasper``, ``quartznet``, ``wav2letter`` (the
  block-described conv encoder, ``s2s.models.conv``) and ``ds2``
  (``s2s.models.deepspeech2``). An encoder maps ``(x (B, T, D), lengths (B,))`` to
  ``(y (B, T', H), out_lengths (B,))``, zero at padded frames, and exposes
  ``output_dim`` (H) and ``stride`` (T / T').
- ``MODELS``: whole models by kind (``asr``, ``classifier``, ``lm``, ``tacotron2``),
  each a builder taking plain keyword arguments. A checkpoint stores
  ``{"name": kind, "args": {...}}`` (``model.spec``), and ``build_model`` rebuilds it.
"""

from __future__ import annotations

from s2s.registry import Registry

ENCODERS = Registry("encoder")
MODELS = Registry("model")


def build_model(name: str, args: dict, context: str = "model"):
    """Build model ``name`` from ``args`` (checked against its builder) and remember the spec."""
    model = MODELS.build(name, {}, context=context, **args)
    model.spec = {"name": name, "args": args}
    return model
