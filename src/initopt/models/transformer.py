"""A small decoder-only transformer (pre-norm, as nanoGPT / GPT-2) over token sequences.

    tokens (N, T) -> token embedding + learned position embedding -> dropout
      -> layers x [x + attn(LayerNorm(x)), x + mlp(LayerNorm(x))] -> LayerNorm -> Linear head

Causal self-attention is one ``scaled_dot_product_attention(is_causal=True)`` call with q, k, v from
one Linear(d, 3d); the MLP is Linear(d, 4d) -> GELU -> Linear(4d, d). The two Linears that end a
residual branch (``attn.proj`` and ``mlp.proj``) are marked with ``initopt.init.mark_residual``, so
``initialize(model, "gpt2")`` draws them with ``0.02 / sqrt(2 * layers)`` (Radford et al. 2019).

Written so that the study's bundled layers can stand in for every module: every parameter lives in an
nn.Linear, nn.Embedding or nn.LayerNorm (none is used bare in a forward), positions are looked up with
a batch-shaped index ``(N, T)``, and every reshape takes the batch size from ``x.size(0)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from initopt.init.roles import mark_residual

#: The MLP's hidden width is this many times d_model (GPT-2, and Vaswani et al. 2017).
MLP_RATIO = 4


def _tokens(x: torch.Tensor) -> torch.Tensor:
    """Token ids as int64: a dataset whose inputs are stored as floats still gives whole numbers."""
    return x.long() if x.is_floating_point() else x


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention; ``proj`` is the residual branch's output projection.

    No dropout on the attention probabilities (nanoGPT's ``attn_dropout``): the attention stays one
    fused call without a random mask, and dropout lives in nn.Dropout modules only.
    """

    def __init__(self, d_model: int, heads: int, dropout: float = 0.0):
        super().__init__()
        self.heads, self.head_dim = heads, d_model // heads
        self.attention_scale: float | None = None  # None: 1/sqrt(head_dim); muP sets 1/sqrt(m head_dim) (parametrize)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = mark_residual(nn.Linear(d_model, d_model))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length, width = x.size(1), x.size(2)
        q, k, v = self.qkv(x).split(width, dim=2)
        # (N, T, d) -> (N, heads, T, d / heads)
        q, k, v = (t.view(x.size(0), length, self.heads, width // self.heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=self.attention_scale)
        y = y.transpose(1, 2).reshape(x.size(0), length, width)
        return self.dropout(self.proj(y))


class MLP(nn.Module):
    """Linear(d, 4d) -> GELU -> Linear(4d, d); ``proj`` is the residual branch's output projection."""

    def __init__(self, d_model: int, dropout: float = 0.0):
        super().__init__()
        self.fc = nn.Linear(d_model, MLP_RATIO * d_model)
        self.act = nn.GELU()
        self.proj = mark_residual(nn.Linear(MLP_RATIO * d_model, d_model))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(self.act(self.fc(x))))


class Block(nn.Module):
    """Pre-norm block: ``x + attn(ln1(x))``, then ``x + mlp(ln2(x))``."""

    def __init__(self, d_model: int, heads: int, dropout: float = 0.0):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, heads, dropout)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class Transformer(nn.Module):
    """Decoder-only transformer: ``(N, T)`` token ids -> logits ``(N, out)`` of the last position, or
    ``(N, T, out)`` for every position with ``per_token``.

    ``vocab_size``: input tokens; ``out``: output classes; ``context``: the longest sequence (the
    position table's size); ``heads`` must divide ``d_model``.
    """

    def __init__(
        self,
        vocab_size: int,
        out: int,
        context: int,
        d_model: int = 64,
        layers: int = 2,
        heads: int = 4,
        dropout: float = 0.0,
        per_token: bool = False,
    ):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"heads ({heads}) must divide d_model ({d_model})")
        self.context, self.per_token = context, per_token
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(context, d_model)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(d_model, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = _tokens(x)
        length = tokens.size(1)
        if length > self.context:
            raise ValueError(f"sequence of length {length} is longer than the context ({self.context})")
        # a batch-shaped index, (N, T): the bundled embedding looks up every example's own row
        positions = torch.arange(length, device=tokens.device).expand(tokens.size(0), length)
        h = self.dropout(self.tok(tokens) + self.pos(positions))
        for block in self.blocks:
            h = block(h)
        h = self.norm(h)
        return self.head(h if self.per_token else h[:, -1])
