"""WaveNet vocoder (van den Oord et al., 2016, arXiv 1609.03499): log-mel frames -> waveform.

    mu-law sample x[t-1] -> embedding (residual channels)
    L layers, dilations 1, 2, ..., 2^(cycle-1) repeated:
        z = tanh(conv_f(x) + c_f) * sigmoid(conv_g(x) + c_g)       causal dilated conv, kernel k
        x = x + res(z),  skip += skip(z)
    mel (T, n_mels) -> conv over frames -> per-layer 1x1 (c_f, c_g), each frame repeated hop times
    skip -> ReLU -> 1x1 -> ReLU -> 1x1 -> 256 mu-law classes (softmax)

OpenSeq2Seq's WaveNet (example_configs/text2speech/wavenet_float.py) is 3 cycles of 10
layers, kernel 3, 64 channels, mu-law 256, mel conditioning repeated to the sample rate;
those are the defaults here except the cycles, which configs set.

Training is teacher forced (the input at t is the true sample t-1). Generation is
autoregressive and uses the caching of "fast WaveNet" (Paine et al., 2016, arXiv
1611.09482): each layer keeps a queue of its last (k-1) x dilation inputs, so a new sample
costs one small matrix product per layer instead of a pass over the receptive field. The
loop runs in NumPy on the layers' weights packed once (input, gate and conditioning products
fused), on a batch of utterances at a time; :meth:`WaveNet.generate` is the entry point.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from s2s.models.registry import MODELS


def mulaw_encode(x: torch.Tensor, classes: int = 256) -> torch.Tensor:
    """Waveform in [-1, 1] -> mu-law class indices in [0, classes)."""
    mu = classes - 1
    y = torch.sign(x) * torch.log1p(mu * x.abs().clamp(max=1.0)) / np.log1p(mu)
    return ((y + 1) / 2 * mu + 0.5).long().clamp(0, mu)


def mulaw_decode(q, classes: int = 256):
    """Mu-law class indices -> waveform in [-1, 1] (torch tensors or NumPy arrays)."""
    mu = classes - 1
    lib = torch if isinstance(q, torch.Tensor) else np
    y = 2 * q / mu - 1.0
    return lib.sign(y) * ((1 + mu) ** lib.abs(y) - 1) / mu


class ResidualLayer(nn.Module):
    def __init__(self, channels: int, skip: int, kernel: int, dilation: int):
        super().__init__()
        self.kernel, self.dilation = kernel, dilation
        self.conv = nn.Conv1d(channels, 2 * channels, kernel, dilation=dilation)
        self.res = nn.Conv1d(channels, channels, 1)
        self.skip = nn.Conv1d(channels, skip, 1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.conv(F.pad(x, ((self.kernel - 1) * self.dilation, 0))) + cond
        f, g = h.chunk(2, dim=1)
        z = torch.tanh(f) * torch.sigmoid(g)
        return x + self.res(z), self.skip(z)


@MODELS.register("wavenet")
class WaveNet(nn.Module):
    """Mel-conditioned WaveNet. ``hop`` is the mel frame shift in samples (each frame drives
    ``hop`` samples); ``sample_rate`` is stored for the synthesizer."""

    def __init__(self, n_mels: int = 80, hop: int = 200, sample_rate: int = 16000, layers: int = 30,
                 cycle: int = 10, kernel: int = 3, channels: int = 64, skip_channels: int = 64,
                 cond_channels: int = 128, cond_kernel: int = 3, classes: int = 256):
        super().__init__()
        self.n_mels, self.hop, self.sample_rate, self.classes = n_mels, hop, sample_rate, classes
        self.embed = nn.Embedding(classes, channels)
        self.cond = nn.Conv1d(n_mels, cond_channels, cond_kernel, padding=cond_kernel // 2)
        self.cond_layers = nn.Conv1d(cond_channels, layers * 2 * channels, 1)
        self.layers = nn.ModuleList(ResidualLayer(channels, skip_channels, kernel, 2 ** (i % cycle))
                                    for i in range(layers))
        self.out1 = nn.Conv1d(skip_channels, skip_channels, 1)
        self.out2 = nn.Conv1d(skip_channels, classes, 1)
        self.receptive_field = 1 + sum((kernel - 1) * layer.dilation for layer in self.layers)

    def conditioning(self, mels: torch.Tensor) -> torch.Tensor:
        """Per-layer conditioning at the frame rate: (B, T, n_mels) -> (B, L * 2C, T)."""
        return self.cond_layers(torch.relu(self.cond(mels.transpose(1, 2))))

    def forward(self, inputs: torch.Tensor, mels: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, classes, N) for mu-law ``inputs`` (B, N) (the previous
        samples: ``inputs[:, t]`` is sample t-1) and ``mels`` (B, T, n_mels), N <= T * hop."""
        n = inputs.shape[1]
        cond = self.conditioning(mels).repeat_interleave(self.hop, dim=2)[:, :, :n]
        conds = cond.chunk(len(self.layers), dim=1)
        x = self.embed(inputs).transpose(1, 2)
        skip = 0
        for layer, c in zip(self.layers, conds):
            x, s = layer(x, c)
            skip = skip + s
        return self.out2(torch.relu(self.out1(torch.relu(skip))))

    # ------------------------------------------------------------------ generation
    def _packed(self) -> dict:
        """The weights as NumPy float32 matrices for the sample loop, rebuilt when they change.

        Per layer: the k taps' input weights stacked into one (k C, 2C) matrix, the gate half
        scaled by 1/2 so that one tanh serves both halves (sigmoid(g) = (1 + tanh(g/2)) / 2),
        the residual weights scaled by 1/2 to absorb the other factor; the skip weights of all
        layers stacked into one (L C, S) matrix applied once per sample. The residual biases
        are not added in the loop: layer l keeps its inputs minus beta_l (the sum of the residual
        biases before it, a constant), and beta_l times its tap weights joins its bias ("b");
        its queue starts at -beta_l, the zero padding of the teacher-forced pass."""
        key = tuple((p.data_ptr(), p._version) for p in self.parameters())
        if getattr(self, "_pack_key", None) != key:
            with torch.no_grad():
                ch = self.embed.weight.shape[1]
                gate_scale = torch.cat([torch.ones(ch), torch.full((ch,), 0.5)])
                layers = []
                beta = torch.zeros(ch)
                for layer in self.layers:
                    w = layer.conv.weight * gate_scale[:, None, None]  # (2C, C, k)
                    layers.append({
                        # tap j multiplies the input (k-1-j) x dilation samples back
                        "w": w.permute(2, 1, 0).reshape(-1, w.shape[0]).float().numpy().copy(),
                        "b": (layer.conv.bias * gate_scale + beta @ w.sum(2).T).float().numpy().copy(),
                        "beta": beta.float().numpy().copy(),
                        "r": (0.5 * layer.res.weight[:, :, 0].T).float().numpy().copy(),
                        "d": layer.dilation, "k": layer.kernel})
                    beta = beta + layer.res.bias
                skip_w = torch.cat([0.5 * layer.skip.weight[:, :, 0].T for layer in self.layers], 0)
                self._pack = {
                    "layers": layers, "embed": self.embed.weight.float().numpy().copy(),
                    "skip_w": skip_w.float().numpy().copy(),
                    "skip_b": sum(layer.skip.bias for layer in self.layers).float().numpy().copy(),
                    "gate_scale": gate_scale.numpy(),
                    "o1": self.out1.weight[:, :, 0].T.float().numpy().copy(),
                    "o1_b": self.out1.bias.float().numpy().copy(),
                    "o2": self.out2.weight[:, :, 0].T.float().numpy().copy(),
                    "o2_b": self.out2.bias.float().numpy().copy()}
            self._pack_key = key
        return self._pack

    @torch.no_grad()
    def generate(self, mels: list[torch.Tensor], temperature: float = 1.0, seed: int = 0) -> list[np.ndarray]:
        """Waveforms (float32, [-1, 1]) for a list of log-mels (T_i, n_mels), generated
        together: ``T_i * hop`` samples each. Sampling from the softmax (``temperature``
        scales the logits; the draws follow ``seed``)."""
        if not mels:
            return []
        lens = [int(m.shape[0]) * self.hop for m in mels]
        t_max = max(m.shape[0] for m in mels)
        batch = torch.zeros(len(mels), t_max, self.n_mels)
        for i, m in enumerate(mels):
            batch[i, : m.shape[0]] = m.float().cpu()
        p = self._packed()
        cond = self.conditioning(batch.to(next(self.parameters()).device)).float().cpu().numpy()  # (B, L 2C, T)
        b, n_layers = len(mels), len(p["layers"])
        ch = p["embed"].shape[1]
        cond = cond.reshape(b, n_layers, 2 * ch, t_max).transpose(3, 1, 0, 2) * p["gate_scale"]
        for i, layer in enumerate(p["layers"]):
            cond[:, i] += layer["b"]  # conv bias folded into the conditioning
        cond = np.ascontiguousarray(cond, dtype=np.float32)  # (T, L, B, 2C)
        # Per layer: a ring of its last (k-1) x d inputs (minus beta), one row per past sample.
        queues = [np.broadcast_to(-lay["beta"], ((lay["k"] - 1) * lay["d"], b, ch)).astype(np.float32)
                  for lay in p["layers"]]
        gated = np.empty((b, n_layers * ch), dtype=np.float32)  # every layer's gated output, for the skips
        rng = np.random.default_rng(seed)
        n = max(lens)
        out = np.empty((b, n), dtype=np.int64)
        current = np.full(b, self.classes // 2, dtype=np.int64)  # mu-law code of silence
        inv_t = 1.0 / max(temperature, 1e-6)
        embed, skip_w, skip_b = p["embed"], p["skip_w"], p["skip_b"]
        o1, o1_b, o2, o2_b = p["o1"], p["o1_b"], p["o2"], p["o2_b"]
        plan = [(lay["w"], lay["r"], lay["d"], lay["k"], q, gated[:, i * ch:(i + 1) * ch])
                for i, (lay, q) in enumerate(zip(p["layers"], queues))]
        last = n_layers - 1
        for t in range(n):
            x = embed[current]
            c_t = cond[t // self.hop]
            for i, (w, r, d, k, q, z) in enumerate(plan):
                size = q.shape[0]
                slot = t % size
                # Inputs (k-1)d, ..., d samples back (oldest first), then the current one.
                if k == 2:
                    taps = np.concatenate((q[slot], x), axis=1)
                else:
                    taps = np.concatenate([q[(slot + j * d) % size] for j in range(k - 1)] + [x], axis=1)
                q[slot] = x
                h = np.tanh(taps @ w + c_t[i])
                np.multiply(h[:, :ch], h[:, ch:] + 1.0, out=z)
                if i != last:  # the last layer's residual output is never read
                    x = x + z @ r
            hidden = np.maximum(gated @ skip_w + skip_b, 0.0)
            logits = np.maximum(hidden @ o1 + o1_b, 0.0) @ o2 + o2_b
            logits = (logits - logits.max(axis=1, keepdims=True)) * inv_t
            cdf = np.cumsum(np.exp(logits), axis=1)
            u = rng.random(b)[:, None] * cdf[:, -1:]
            current = np.minimum((cdf < u).sum(axis=1), self.classes - 1)
            out[:, t] = current
        wavs = mulaw_decode(out.astype(np.float32), self.classes).astype(np.float32)
        return [wavs[i, : lens[i]] for i in range(b)]
