"""The catalogue of initialization schemes: one factory per scheme, formula and source in its docstring.

Every factory validates its arguments (the error names the parameter) and returns a frozen
:class:`~initopt.init.scheme.Scheme`. Draws go through ``torch.nn.init`` with ``generator=``, so
under one generator our weights equal torch's. ``params``/``spec()`` always hold every parameter
with its default filled in, so a recorded spec keeps its meaning even if a default changes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch.nn import init as torch_init

from initopt.init._validate import check_choice, check_number
from initopt.init.distributions import Distribution, Kind, truncated_normal_moments
from initopt.init.fans import DEFAULT_LEAKY_RELU_SLOPE, FAN_MODES, NONLINEARITIES, calculate_gain, select_fan
from initopt.init.scheme import Scheme
from initopt.init.variance_scaling import glorot_std, he_std, lecun_std, uniform_bound

__all__ = [
    "constant",
    "dirac",
    "gaussian",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "identity",
    "kaiming_normal",
    "kaiming_uniform",
    "lecun_normal",
    "lecun_uniform",
    "normal",
    "orthogonal",
    "trunc_normal",
    "uniform",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]

_GLOROT_2010 = (
    "Glorot & Bengio, 'Understanding the difficulty of training deep feedforward neural networks', AISTATS 2010"
)
_HE_2015 = "He, Zhang, Ren & Sun, 'Delving Deep into Rectifiers', ICCV 2015"
_LECUN_1998 = "LeCun, Bottou, Orr & Mueller, 'Efficient BackProp', Neural Networks: Tricks of the Trade, 1998"
_SAXE_2014 = (
    "Saxe, McClelland & Ganguli, 'Exact solutions to the nonlinear dynamics of learning in deep linear"
    " neural networks', ICLR 2014"
)


# -- concrete schemes ----------------------------------------------------------------------------
class _Constant(Scheme):
    __slots__ = ()
    source = "convention (no paper); every unit of a layer starts identical"
    draws = False

    def distribution(self, fan_in, fan_out=None, *, shape=None):  # type: ignore[no-untyped-def]
        return Distribution(Kind.POINT, mean=self._params.get("value", 0.0), std=0.0)

    def _fill(self, tensor, fan_in, fan_out, generator):  # type: ignore[no-untyped-def]
        torch_init.constant_(tensor, self._params.get("value", 0.0))


class _Normal(Scheme):
    __slots__ = ()
    source = "convention (no paper): 'standard normal initialization' when std=1"

    def distribution(self, fan_in, fan_out=None, *, shape=None):  # type: ignore[no-untyped-def]
        return Distribution(Kind.NORMAL, mean=self._params["mean"], std=self._params["std"])

    def _fill(self, tensor, fan_in, fan_out, generator):  # type: ignore[no-untyped-def]
        torch_init.normal_(tensor, self._params["mean"], self._params["std"], generator=generator)


class _Uniform(Scheme):
    __slots__ = ()
    source = "convention (no paper)"

    def distribution(self, fan_in, fan_out=None, *, shape=None):  # type: ignore[no-untyped-def]
        a, b = self._params["a"], self._params["b"]
        # U(a, b): mean (a + b) / 2, variance (b - a)^2 / 12.
        return Distribution(Kind.UNIFORM, mean=(a + b) / 2, std=(b - a) / math.sqrt(12.0), low=a, high=b)

    def _fill(self, tensor, fan_in, fan_out, generator):  # type: ignore[no-untyped-def]
        torch_init.uniform_(tensor, self._params["a"], self._params["b"], generator=generator)


class _VarianceScaling(Scheme):
    """Zero-mean normal or uniform with ``std = normal_std(fan_in, fan_out)``; subclasses give the std."""

    __slots__ = ()
    uses_fans = True

    @property
    def is_uniform(self) -> bool:
        return self._name.endswith("_uniform")

    def normal_std(self, fan_in: int, fan_out: int | None) -> float:
        raise NotImplementedError

    def distribution(self, fan_in, fan_out=None, *, shape=None):  # type: ignore[no-untyped-def]
        std = self.normal_std(fan_in, fan_out)
        if self.is_uniform:
            bound = uniform_bound(std)
            return Distribution(Kind.UNIFORM, mean=0.0, std=std, low=-bound, high=bound)
        return Distribution(Kind.NORMAL, mean=0.0, std=std)

    def _fill(self, tensor, fan_in, fan_out, generator):  # type: ignore[no-untyped-def]
        std = self.normal_std(fan_in, fan_out)
        if self.is_uniform:
            bound = uniform_bound(std)
            torch_init.uniform_(tensor, -bound, bound, generator=generator)
        else:
            torch_init.normal_(tensor, 0.0, std, generator=generator)


def _require_fan_out(name: str, fan_out: int | None) -> int:
    if fan_out is None:
        raise ValueError(f"{name} needs fan_out (its std depends on fan_in + fan_out); got fan_out=None")
    return fan_out


class _Glorot(_VarianceScaling):
    __slots__ = ()
    source = _GLOROT_2010

    def gain(self) -> float:
        return self._params["gain"]

    def normal_std(self, fan_in: int, fan_out: int | None) -> float:
        return glorot_std(fan_in, _require_fan_out(self._name, fan_out), self._params["gain"])


class _He(_VarianceScaling):
    __slots__ = ()
    source = _HE_2015

    def gain(self) -> float:
        return calculate_gain(self._params["nonlinearity"], self._params.get("a"))

    def normal_std(self, fan_in: int, fan_out: int | None) -> float:
        return he_std(select_fan(self._params["mode"], fan_in, fan_out), self.gain())


class _LeCun(_VarianceScaling):
    __slots__ = ()
    source = _LECUN_1998

    def gain(self) -> float:
        return 1.0

    def normal_std(self, fan_in: int, fan_out: int | None) -> float:
        return lecun_std(fan_in)


class _TruncNormal(Scheme):
    __slots__ = ()
    source = (
        "convention (e.g. std=0.02 in ViT/BERT); exact moments from Johnson, Kotz & Balakrishnan,"
        " 'Continuous Univariate Distributions' vol. 1, 1994, ch. 13"
    )

    def distribution(self, fan_in, fan_out=None, *, shape=None):  # type: ignore[no-untyped-def]
        p = self._params
        mean, std = truncated_normal_moments(p["mean"], p["std"], p["a"], p["b"])
        return Distribution(Kind.TRUNCATED_NORMAL, mean, std, low=p["a"], high=p["b"], loc=p["mean"], scale=p["std"])

    def _fill(self, tensor, fan_in, fan_out, generator):  # type: ignore[no-untyped-def]
        p = self._params
        torch_init.trunc_normal_(tensor, p["mean"], p["std"], p["a"], p["b"], generator=generator)


def _rows_cols(fan_in: int, fan_out: int | None, shape: Sequence[int] | None) -> tuple[int, int]:
    """The matrix torch's orthogonal_ builds: ``(size(0), numel / size(0))``; from the fans for 2-D."""
    if shape is not None and len(shape) >= 2:
        return shape[0], math.prod(shape[1:])
    return _require_fan_out("orthogonal", fan_out), fan_in


class _Orthogonal(Scheme):
    __slots__ = ()
    source = _SAXE_2014

    def gain(self) -> float:
        return self._params["gain"]

    def check_shape(self, shape: Sequence[int]) -> None:
        if len(shape) < 2:
            raise ValueError(f"orthogonal needs a tensor with >= 2 dimensions; got shape {tuple(shape)}")

    def distribution(self, fan_in, fan_out=None, *, shape=None):  # type: ignore[no-untyped-def]
        # A (semi-)orthogonal rows x cols matrix has min(rows, cols) unit rows or columns, so the
        # mean square entry is gain^2 * min / (rows * cols) = gain^2 / max(rows, cols). The entries
        # are close to, not exactly, normal.
        rows, cols = _rows_cols(fan_in, fan_out, shape)
        std = self._params["gain"] / math.sqrt(max(rows, cols))
        return Distribution(Kind.NORMAL, mean=0.0, std=std, approximate=True)

    def _fill(self, tensor, fan_in, fan_out, generator):  # type: ignore[no-untyped-def]
        if tensor.dtype in (torch.float32, torch.float64):
            torch_init.orthogonal_(tensor, self._params["gain"], generator=generator)
        else:  # QR has no half-precision kernels: factorise in float32, then round.
            scratch = torch.empty(tensor.shape, dtype=torch.float32, device=tensor.device)
            tensor.copy_(torch_init.orthogonal_(scratch, self._params["gain"], generator=generator))


def _bernoulli(ones: int, numel: int) -> Distribution:
    """A tensor of ``ones`` ones and zeros elsewhere: mean p = ones / numel, std sqrt(p (1 - p))."""
    p = ones / numel
    return Distribution(Kind.BERNOULLI, mean=p, std=math.sqrt(p * (1 - p)), low=0.0, high=1.0)


class _Identity(Scheme):
    __slots__ = ()
    source = "identity matrix (eye) for 2-D weights, Dirac delta kernels for conv weights"
    draws = False
    _NDIMS: tuple[int, ...] = (2, 3, 4, 5)

    def check_shape(self, shape: Sequence[int]) -> None:
        if len(shape) not in self._NDIMS:
            ndims = "/".join(map(str, self._NDIMS))
            raise ValueError(f"{self._name} needs a {ndims}-D weight; got shape {tuple(shape)}")

    def distribution(self, fan_in, fan_out=None, *, shape=None):  # type: ignore[no-untyped-def]
        if shape is None:
            if 2 not in self._NDIMS:
                return None  # a conv kernel's size is not in its fans alone
            shape = (_require_fan_out(self._name, fan_out), fan_in)
        self.check_shape(shape)
        return _bernoulli(min(shape[0], shape[1]), math.prod(shape))

    def _fill(self, tensor, fan_in, fan_out, generator):  # type: ignore[no-untyped-def]
        if tensor.dim() == 2:
            torch_init.eye_(tensor)
        else:
            torch_init.dirac_(tensor)


class _Dirac(_Identity):
    __slots__ = ()
    source = "Zagoruyko & Komodakis, 'DiracNets: Training Very Deep Neural Networks Without Skip-Connections', 2017"
    _NDIMS = (3, 4, 5)


# -- factories -----------------------------------------------------------------------------------
def zeros() -> Scheme:
    """All weights 0: ``W = 0``.

    Fine for biases. For weights it makes every unit of a layer compute the same function and get
    the same gradient, so the units never differ (the symmetry problem); it does not "prevent
    vanishing gradients". Same as ``torch.nn.init.zeros_``.
    """
    return _Constant("zeros", {})


def constant(value: float) -> Scheme:
    """All weights ``value``: ``W = c``. Same as ``torch.nn.init.constant_``; symmetric like ``zeros``."""
    return _Constant("constant", {"value": check_number("value", value)})


def normal(mean: float = 0.0, std: float = 1.0) -> Scheme:
    """``W ~ N(mean, std^2)`` (alias ``gaussian``); defaults: the standard normal, N(0, 1).

    Same as ``torch.nn.init.normal_`` (same defaults). A fixed std ignores the layer's width: with
    std=1 and fan_in=100 the pre-activations have std 10. Example: ``normal(std=0.02)`` (GPT-2).
    """
    return _Normal("normal", {"mean": check_number("mean", mean), "std": check_number("std", std, minimum=0.0)})


def uniform(a: float = 0.0, b: float = 1.0) -> Scheme:
    """``W ~ U(a, b)``: mean ``(a + b) / 2``, std ``(b - a) / sqrt(12)``; defaults U(0, 1) as in torch.

    Same as ``torch.nn.init.uniform_``. Needs ``b > a``.
    """
    low, high = check_number("a", a), check_number("b", b)
    if not high > low:
        raise ValueError(f"uniform needs b > a; got a={a!r}, b={b!r}")
    return _Uniform("uniform", {"a": low, "b": high})


def xavier_normal(gain: float = 1.0) -> Scheme:
    """``W ~ N(0, std^2)``, ``std = gain * sqrt(2 / (fan_in + fan_out))`` (alias ``glorot_normal``).

    Glorot & Bengio, AISTATS 2010. Same as ``torch.nn.init.xavier_normal_``. Keras's GlorotNormal
    draws from a truncated normal with the std corrected so that the variance is the same.
    """
    return _Glorot("xavier_normal", {"gain": check_number("gain", gain, minimum=0.0)})


def xavier_uniform(gain: float = 1.0) -> Scheme:
    """``W ~ U(-bound, bound)``, ``bound = gain * sqrt(6 / (fan_in + fan_out))`` (alias ``glorot_uniform``).

    Glorot & Bengio, AISTATS 2010, eq. (16) (gain 1). Same as ``torch.nn.init.xavier_uniform_``;
    Keras's default initializer for Dense layers.
    """
    return _Glorot("xavier_uniform", {"gain": check_number("gain", gain, minimum=0.0)})


def _he_params(mode: str, nonlinearity: str, a: float | None) -> dict[str, object]:
    params: dict[str, object] = {
        "mode": check_choice("mode", mode, FAN_MODES),
        "nonlinearity": check_choice("nonlinearity", nonlinearity, NONLINEARITIES),
    }
    if nonlinearity == "leaky_relu":
        params["a"] = DEFAULT_LEAKY_RELU_SLOPE if a is None else check_number("a", a)
    elif a is not None and a != 0:
        raise ValueError(
            f"a (the negative slope) only applies to nonlinearity='leaky_relu'; got a={a!r} with {nonlinearity!r}"
        )
    return params


def he_normal(mode: str = "fan_in", nonlinearity: str = "relu", a: float | None = None) -> Scheme:
    """``W ~ N(0, std^2)``, ``std = gain / sqrt(fan_mode)`` (alias ``kaiming_normal``).

    He et al., ICCV 2015. With ReLU (gain sqrt(2)) and mode 'fan_in': ``Var(W) = 2 / fan_in``;
    for fan_in=100, std = 0.1414, and 99.7% of the weights lie within +-0.42 (not within
    +-0.01). ``gain = calculate_gain(nonlinearity, a)``; ``a`` is the leaky ReLU's negative slope,
    0.01 when not given (as ``torch.nn.init.calculate_gain``; torch's ``kaiming_normal_`` itself
    defaults to a=0 and nonlinearity='leaky_relu', i.e. gain sqrt(2)). ``params`` holds ``a`` only
    for leaky_relu, the one nonlinearity it changes.

    A plain normal, as ``torch.nn.init.kaiming_normal_``: Keras's HeNormal draws from a normal
    truncated at 2 std with the std divided by 0.8796 so that the variance is the same.
    """
    return _He("he_normal", _he_params(mode, nonlinearity, a))


def he_uniform(mode: str = "fan_in", nonlinearity: str = "relu", a: float | None = None) -> Scheme:
    """``W ~ U(-bound, bound)``, ``bound = sqrt(3) * gain / sqrt(fan_mode)`` (alias ``kaiming_uniform``).

    He et al., ICCV 2015, with the uniform of equal variance; with ReLU ``bound = sqrt(6 / fan_in)``.
    Same as ``torch.nn.init.kaiming_uniform_``; arguments as in :func:`he_normal`. (torch's layers'
    own default init is kaiming_uniform_ with a=sqrt(5), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)).)
    """
    return _He("he_uniform", _he_params(mode, nonlinearity, a))


def lecun_normal() -> Scheme:
    """``W ~ N(0, 1 / fan_in)``: ``std = 1 / sqrt(fan_in)``.

    LeCun et al., "Efficient BackProp", 1998. Equals ``torch.nn.init.kaiming_normal_`` with
    ``nonlinearity='linear'``; the init for SELU networks (Klambauer et al. 2017). Keras's
    LecunNormal draws from a truncated normal with corrected std (same variance).
    """
    return _LeCun("lecun_normal", {})


def lecun_uniform() -> Scheme:
    """``W ~ U(-bound, bound)``, ``bound = sqrt(3 / fan_in)`` (variance ``1 / fan_in``).

    LeCun et al., "Efficient BackProp", 1998. Equals ``torch.nn.init.kaiming_uniform_`` with
    ``nonlinearity='linear'``.
    """
    return _LeCun("lecun_uniform", {})


def orthogonal(gain: float = 1.0) -> Scheme:
    """``W = gain * Q``, Q a random (semi-)orthogonal matrix (the trailing dims flattened).

    Saxe, McClelland & Ganguli, ICLR 2014. Same as ``torch.nn.init.orthogonal_`` (QR of a Gaussian
    matrix, signs fixed so Q is Haar-distributed). The entries have mean 0 and
    ``std = gain / sqrt(max(rows, cols))``; for a 2-D weight ``max(fan_in, fan_out)``. Needs >= 2-D.
    """
    return _Orthogonal("orthogonal", {"gain": check_number("gain", gain, minimum=0.0)})


def trunc_normal(mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0) -> Scheme:
    """``W ~ N(mean, std^2)`` restricted to ``[a, b]``; ``a``, ``b`` are absolute cut-offs.

    ``torch.nn.init.trunc_normal_``'s convention and defaults (Keras's TruncatedNormal instead cuts
    at mean +- 2 std). The drawn weights' std is smaller than ``std``: exactly
    ``std * sqrt(1 + (alpha phi(alpha) - beta phi(beta)) / Z - ((phi(alpha) - phi(beta)) / Z)^2)``
    with ``alpha = (a - mean) / std``, ``beta = (b - mean) / std``, ``Z = Phi(beta) - Phi(alpha)``;
    0.8796 for the defaults. Needs ``std > 0`` and ``b > a``.
    """
    params = {
        "mean": check_number("mean", mean),
        "std": check_number("std", std, minimum=0.0, strictly_above=True),
        "a": check_number("a", a, allow_infinite=True),
        "b": check_number("b", b, allow_infinite=True),
    }
    if not params["b"] > params["a"]:
        raise ValueError(f"trunc_normal needs b > a; got a={a!r}, b={b!r}")
    truncated_normal_moments(params["mean"], params["std"], params["a"], params["b"])  # [a, b] must hold mass
    return _TruncNormal("trunc_normal", params)


def identity() -> Scheme:
    """``W = I``: ``torch.nn.init.eye_`` for 2-D weights, ``dirac_`` for 3/4/5-D conv weights.

    The layer starts as the identity map (where in/out sizes differ, on the first min(in, out)
    units). Le, Jaitly & Hinton 2015 use it for recurrent weights (IRNN).
    """
    return _Identity("identity", {})


def dirac() -> Scheme:
    """Dirac delta kernels: ``W[i, i, centre] = 1``, 0 elsewhere; conv weights (3/4/5-D) only.

    Zagoruyko & Komodakis, "DiracNets", 2017. Same as ``torch.nn.init.dirac_`` (groups=1): the
    convolution starts as the identity on the first min(in, out) channels.
    """
    return _Dirac("dirac", {})


# Aliases: the other framework's names for the same scheme (the scheme keeps its canonical name).
gaussian = normal
glorot_normal = xavier_normal
glorot_uniform = xavier_uniform
kaiming_normal = he_normal
kaiming_uniform = he_uniform
