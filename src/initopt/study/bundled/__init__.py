"""Bundled layers: K configurations of one layer computed together, each with its own parameters.

One layer family per module; each class names the ``torch.nn`` types it ``replaces`` and is built
from the K modules it stands for. Adding a layer type: a module here with its class, listed in
``LAYERS``, and a test against K separate modules (tests/study/bundled/).
"""

from initopt.study.bundled.attention import BundledMultiheadAttention
from initopt.study.bundled.batchnorm import BundledBatchNorm
from initopt.study.bundled.conv import BundledConv
from initopt.study.bundled.dropout import BundledDropout
from initopt.study.bundled.embedding import BundledEmbedding
from initopt.study.bundled.linear import BundledLinear
from initopt.study.bundled.model import FoldedBundle, NotBatchable
from initopt.study.bundled.norm import BundledLayerNorm, BundledRMSNorm
from initopt.study.bundled.pooling import BundledMaxPool2d

LAYERS = (BundledLinear, BundledConv, BundledEmbedding, BundledLayerNorm, BundledRMSNorm, BundledBatchNorm,
          BundledDropout, BundledMultiheadAttention, BundledMaxPool2d)

__all__ = ["LAYERS", "FoldedBundle", "NotBatchable"]
