"""The encoder registry: configs name an encoder (``encoder: quartznet``) and give its ``encoder_conf``.

Importing this module (through the ``s2s.models`` package) registers the built-in
encoders: ``jasper``, ``quartznet``, ``wav2letter`` (one block-described
convolutional class, ``s2s.models.conv.ConvEncoder``) and ``ds2``
(``s2s.models.deepspeech2.DeepSpeech2``).

An encoder is an ``nn.Module`` built as ``ENCODERS.build(name, encoder_conf,
input_dim=D)``; it maps ``(x (B, T, D), lengths (B,))`` to ``(y (B, T', H),
out_lengths (B,))``, zero at padded frames, and exposes ``output_dim`` (H).
"""

from __future__ import annotations

from s2s.registry import Registry

ENCODERS = Registry("encoder")
