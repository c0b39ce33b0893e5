"""``nn.MultiheadAttention`` for K configurations (Vaswani et al. 2017): the input and output
projections are bundled linear layers; the attention itself acts on each example alone, so it runs
once over the folded batch (``scaled_dot_product_attention``, or written out when the weights are asked for).

Taken: one embedding size for query, key and value, with or without biases, ``batch_first`` either
way, ``attn_mask`` of shape (L, S) (bool: True masks out; or float: added), ``key_padding_mask``,
``is_causal``, ``need_weights`` and ``average_attn_weights``. Attention dropout, ``add_bias_kv``,
``add_zero_attn`` and distinct key/value sizes take the generic path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from initopt.study.bundled.base import BundleContext, Unsupported, stack
from initopt.study.bundled.linear import BundledLinear, bundled_linear


def _as_additive(mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """MultiheadAttention's mask convention (bool True = not allowed) as an additive float mask."""
    if mask is None or mask.is_floating_point():
        return mask
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill_(mask, float("-inf"))


class BundledMultiheadAttention(nn.Module):
    replaces = (nn.MultiheadAttention,)

    def __init__(self, modules: Sequence[nn.MultiheadAttention], context: BundleContext):
        super().__init__()
        template = modules[0]
        if not template._qkv_same_embed_dim:
            raise Unsupported("kdim/vdim differ from embed_dim")
        if template.bias_k is not None or template.add_zero_attn:
            raise Unsupported("add_bias_kv or add_zero_attn")
        if template.dropout > 0:
            raise Unsupported(f"attention dropout={template.dropout}")
        self.heads, self.batch_first, self.embed_dim = template.num_heads, template.batch_first, template.embed_dim
        self.in_proj_weight, self.in_proj_bias = stack(modules, "in_proj_weight"), stack(modules, "in_proj_bias")
        self.out_proj = BundledLinear([m.out_proj for m in modules], context)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        if not self.batch_first:  # (L, N, E) -> (N, L, E): the folded batch first
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        e, h = self.embed_dim, self.heads
        w, b = self.in_proj_weight, self.in_proj_bias
        chunk = (lambda t, i: None if t is None else t[:, i * e : (i + 1) * e])
        if query is key and key is value:
            q, k, v = bundled_linear(query, w, b).chunk(3, dim=-1)
        else:
            q, k, v = (bundled_linear(t, chunk(w, i), chunk(b, i)) for i, t in enumerate((query, key, value)))
        n, length, source = query.shape[0], query.shape[1], key.shape[1]
        q, k, v = (t.reshape(n, -1, h, e // h).transpose(1, 2) for t in (q, k, v))
        mask = _as_additive(attn_mask, q.dtype)
        if key_padding_mask is not None:
            padding = _as_additive(key_padding_mask, q.dtype).view(n, 1, 1, source)
            mask = padding if mask is None else mask + padding
        causal = is_causal and mask is None
        if need_weights:
            scores = q @ k.transpose(-2, -1) / math.sqrt(e // h)
            if causal:
                scores = scores.masked_fill(torch.ones(length, source, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
            if mask is not None:
                scores = scores + mask
            weights = torch.softmax(scores, dim=-1)
            out = weights @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
            weights = None
        out = self.out_proj(out.transpose(1, 2).reshape(n, length, e))
        if not self.batch_first:
            out = out.transpose(0, 1)
        if weights is not None and average_attn_weights:
            weights = weights.mean(dim=1)
        return out, weights
