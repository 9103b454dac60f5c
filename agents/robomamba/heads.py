"""Policy heads (paper Appendix Table 6), chosen with `RoboMambaConfig.head` / `agents.train --head`:

- `mlp2` (default, the paper's): two MLPs on the pooled token, one for the contact pixel, one for the
  6D rotation; d -> h -> h -> out each. At the paper's width (d 2560, h 576): 3.6M parameters
  (paper: 3.7M, 0.11%).
- `mlp1`: one MLP d -> h -> h -> 8 giving both: 1.8M at the paper's width (paper: 1.8M, 0.05%).
- `ssm_mlp2`: (SSM block + MLP) x 2: each branch runs a Mamba block (expand 1, residual, RMSNorm) over
  the language model's whole last hidden sequence, pools it, then its MLP: 44.9M at the paper's width
  (paper: 45.2M, 1.3%).
- `point` (not the paper's): it points at an image token. Each image token's last hidden state, with the
  pooled token beside it, gets a score (a distribution over the grid of image tokens) and an offset
  within its cell; the contact pixel is the best-scored cell plus its offset, and the rotation comes from
  that token with the pooled one. It trains with cross-entropy on the demo's cell, L1 on the offset
  within it and the rotation loss at it. `ssm_mlp2` and `point` read the hidden sequence; the MLP heads
  the pooled token.

Every head maps its input to (position (B, 2) in [0, 1], rotation (B, 3, 3)); `reads_sequence` says
which input (RoboMambaModel.head_input). Every head first standardises its input per feature with the
statistics of the training features (InputNorm, set by head training; identity until then): the
backbone's pooled tokens differ from sample to sample by about a tenth of their common offset, which
an MLP at the paper's learning rate does not get past.
"""
from __future__ import annotations

import torch
from torch import nn

from ..layers import mlp
from ..rotation import gram_schmidt_6d
from .config import HEADS  # noqa: F401  (the names, kept importable from here)


def pool(hidden: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of the hidden states over the (unmasked) sequence."""
    if mask is None:
        return hidden.mean(1)
    m = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * m).sum(1) / m.sum(1).clamp_min(1)


class InputNorm(nn.Module):
    """(x - shift) / scale per feature (the last dimension); buffers saved with the checkpoint. Starts as
    the identity; `fit` sets them from training features. Checkpoints written before it existed load
    with the identity (RoboMambaModel.optional_state_keys)."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("shift", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.shift) / self.scale

    @torch.no_grad()
    def fit(self, x: torch.Tensor, mask: torch.Tensor | None = None, eps: float = 1e-6) -> None:
        """Mean and standard deviation of `x` (N, d), or of the unmasked tokens of (N, L, d)."""
        if x.dim() == 3:
            x = x[mask.bool()] if mask is not None else x.reshape(-1, x.shape[-1])
        x = x.double()
        self.shift.copy_(x.mean(0).to(self.shift.dtype))
        self.scale.copy_((x.std(0, unbiased=False) + eps).to(self.scale.dtype))

    def extra_repr(self) -> str:
        return f"dim={self.shift.numel()}"


def _outputs(pos: torch.Tensor, rot6: torch.Tensor):
    return torch.sigmoid(pos), gram_schmidt_6d(rot6)


class Head(nn.Module):
    """What every policy head offers: forward(features) -> (position, rotation), and its training loss."""

    reads_sequence = False

    def train_loss(self, features, pos: torch.Tensor, rot: torch.Tensor, rotation: str) -> torch.Tensor:
        """L1 on the normalised (row, col) plus the rotation loss (agents.rotation) of the head's outputs."""
        from ..rotation import rotation_loss

        p, R = self(features)
        return (p - pos).abs().sum(-1).mean() + rotation_loss(rotation, R, rot)


class MLP2Head(Head):
    """Two MLPs on the pooled token: 2D position in [0, 1] (row, col) and a 6D rotation."""

    def __init__(self, d_model: int, hidden: int, **_):
        super().__init__()
        self.input_norm = InputNorm(d_model)
        self.position = mlp([d_model, hidden, hidden, 2])
        self.rotation = mlp([d_model, hidden, hidden, 6])

    def forward(self, pooled: torch.Tensor):
        x = self.input_norm(pooled)
        return _outputs(self.position(x), self.rotation(x))


class MLP1Head(Head):
    """One MLP on the pooled token giving both outputs (2 + 6 numbers)."""

    def __init__(self, d_model: int, hidden: int, **_):
        super().__init__()
        self.input_norm = InputNorm(d_model)
        self.both = mlp([d_model, hidden, hidden, 8])

    def forward(self, pooled: torch.Tensor):
        out = self.both(self.input_norm(pooled))
        return _outputs(out[:, :2], out[:, 2:])


class SSMBranch(nn.Module):
    """RMSNorm -> Mamba mixer (expand 1) with a residual, over the sequence; masked mean; MLP."""

    def __init__(self, d_model: int, hidden: int, out: int, state_size: int):
        from transformers import MambaConfig
        from transformers.models.mamba.modeling_mamba import MambaMixer, MambaRMSNorm

        from .fast_mamba import enable_fast_cpu_scan

        super().__init__()
        config = MambaConfig(hidden_size=d_model, num_hidden_layers=1, state_size=state_size, expand=1)
        self.norm = MambaRMSNorm(d_model, eps=config.layer_norm_epsilon)
        self.mixer = MambaMixer(config, layer_idx=0)
        enable_fast_cpu_scan(self)
        self.mlp = mlp([d_model, hidden, hidden, out])

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if mask is not None:  # padded positions contribute nothing to the scan
            hidden = hidden * mask.to(hidden.dtype).unsqueeze(-1)
        h = hidden + self.mixer(self.norm(hidden))
        return self.mlp(pool(h, mask))


class SSMMLP2Head(Head):
    """(SSM block + MLP) x 2 on the last hidden sequence: one branch for the position, one for the rotation."""

    reads_sequence = True

    def __init__(self, d_model: int, hidden: int, state_size: int = 16, **_):
        super().__init__()
        self.input_norm = InputNorm(d_model)
        self.position = SSMBranch(d_model, hidden, 2, state_size)
        self.rotation = SSMBranch(d_model, hidden, 6, state_size)

    def forward(self, features):
        hidden, mask = features
        hidden = self.input_norm(hidden)
        return _outputs(self.position(hidden, mask), self.rotation(hidden, mask))


class PointHead(Head):
    """Points at one of the `image_tokens` image tokens (a grid of side sqrt(image_tokens), the first
    positions of the sequence) and offsets within its cell (module doc)."""

    reads_sequence = True

    def __init__(self, d_model: int, hidden: int, image_tokens: int = 49, **_):
        super().__init__()
        self.grid = int(round(image_tokens ** 0.5))
        if self.grid ** 2 != image_tokens:
            raise ValueError(f"the point head needs a square grid of image tokens, got {image_tokens}")
        self.input_norm = InputNorm(d_model)
        self.score = mlp([2 * d_model, hidden, 1])
        self.offset = mlp([2 * d_model, hidden, 2])
        self.rotation = mlp([2 * d_model, hidden, hidden, 6])

    def _tokens(self, features) -> tuple[torch.Tensor, torch.Tensor]:
        """(per image token: [its hidden state, the pooled token] (B, N, 2d), their scores (B, N))."""
        hidden, mask = features
        h = self.input_norm(hidden)
        q = pool(h, mask)
        img = h[:, : self.grid ** 2]
        x = torch.cat([img, q.unsqueeze(1).expand_as(img)], -1)
        return x, self.score(x).squeeze(-1)

    def _at(self, x: torch.Tensor, k: torch.Tensor):
        """(position in [0, 1] at cell k plus its offset, rotation) from the chosen tokens x[b, k[b]]."""
        xk = x[torch.arange(len(k)), k]
        cell = torch.stack([k // self.grid, k % self.grid], -1).to(xk.dtype)
        return (cell + torch.sigmoid(self.offset(xk))) / self.grid, gram_schmidt_6d(self.rotation(xk))

    def forward(self, features):
        x, logits = self._tokens(features)
        return self._at(x, logits.argmax(1))

    def train_loss(self, features, pos: torch.Tensor, rot: torch.Tensor, rotation: str) -> torch.Tensor:
        from ..rotation import rotation_loss

        x, logits = self._tokens(features)
        cell = (pos.clamp(0, 1 - 1e-6) * self.grid).floor().long()
        k = cell[:, 0] * self.grid + cell[:, 1]
        p, R = self._at(x, k)  # the offset and rotation at the demo's cell
        return (nn.functional.cross_entropy(logits, k) + (p - pos.clamp(0, 1)).abs().sum(-1).mean()
                + rotation_loss(rotation, R, rot))


def fit_input_norm(head: nn.Module, features) -> None:
    """Set the head's input standardisation from training features (head_features' result)."""
    if isinstance(features, tuple):
        head.input_norm.fit(*features)
    else:
        head.input_norm.fit(features)


def build_head(kind: str, d_model: int, hidden: int, state_size: int = 16, image_tokens: int = 49) -> nn.Module:
    classes = {"mlp2": MLP2Head, "mlp1": MLP1Head, "ssm_mlp2": SSMMLP2Head, "point": PointHead}
    if kind not in classes:
        raise ValueError(f"head={kind!r}: allowed: {', '.join(HEADS)}")
    return classes[kind](d_model, hidden, state_size=state_size, image_tokens=image_tokens)
