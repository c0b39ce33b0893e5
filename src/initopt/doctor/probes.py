"""One forward and one backward pass with hooks: per-layer records of what the signal looks like.

A *layer* is a module that owns parameters (Linear, Conv, Embedding, norm layers, any custom leaf
with parameters) or a ``MultiheadAttention``. An activation module (ReLU, Tanh, ...) that runs
right after a layer, on that layer's output, is folded into it: the layer's activation statistics
are then those after the activation, as the next layer sees them. An activation applied to
anything else (after a residual sum, say) is a row of its own. Dropout, pooling, Flatten and other
parameter-free modules are not rows.

The model comes back as it went in (:func:`untouched`): the gradients come from
``torch.autograd.grad`` (``.grad`` is never written), the hooks are removed, every module's
train/eval flag and every buffer (BatchNorm running statistics) are restored, and the global RNG
is forked (dropout draws from ``seed`` inside the fork).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase
from torch.nn.modules.conv import _ConvNd, _ConvTransposeNd

from initopt.doctor.measures import SignalStats, dead_fraction, duplicate_fraction, population_std, signal_stats
from initopt.init.fans import compute_fans
from initopt.init.roles import is_residual_projection
from initopt.init.variance_scaling import glorot_std, he_std, lecun_std

__all__ = ["LayerProbe", "Probe", "WeightProbe", "probe", "untouched"]

SURROGATE = "surrogate"  # Probe.backward when no loss is given
#: Rounds of "let the zero layers that have a gradient take a step" before symmetry is final: one
#: for a zero head, one more per chain of zero layers that unblock each other.
MAX_UNBLOCK_ROUNDS = 3
#: The rms of the weights a zero layer gets in that step: small, and only its direction matters.
UNBLOCK_SCALE = 1e-2
_RELU_GAIN = math.sqrt(2.0)
#: Activations whose zero output means "no gradient": the ones a unit can die in.
_RECTIFIERS: tuple[type, ...] = (nn.ReLU, nn.ReLU6)
#: Modules whose output has its units (channels) on dim 1: (batch, channels, *positions).
_CHANNEL_FIRST: tuple[type, ...] = (_ConvNd, _NormBase, nn.GroupNorm)


@dataclass(frozen=True)
class WeightProbe:
    """A layer's weight: its statistics, the He/Xavier/LeCun stds for its fans, its gradient, symmetry.

    ``fan_in``/``fan_out``, the targets and the symmetry scores are None for 1-D weights (norm
    scales). ``symmetry``: fraction of units whose incoming weights (and bias) duplicate another
    unit's; ``symmetry_kept``: the same with the weights' gradients appended, i.e. the units that
    one gradient step leaves identical (None without a backward pass). ``grad_std``: population
    std of the weight's gradient.

    An Embedding table ``(num, dim)`` has no fans here (a lookup sums nothing; its rows are tokens,
    and tokens that the batch does not contain share zero gradients). Its units are its ``dim``
    columns, the coordinates it outputs: a constant table makes them identical, and they stay so
    when nothing downstream tells them apart (the two factor tables of matrix factorization, both
    zero, give each other zero gradients). A width-1 table (a learned bias per index) is one unit.
    """

    parameter: str
    shape: tuple[int, ...]
    std: float
    mean: float
    all_zero: bool
    fan_in: int | None
    fan_out: int | None
    he_std: float | None
    xavier_std: float | None
    lecun_std: float | None
    bias_mean: float | None
    grad_std: float | None
    symmetry: float | None
    symmetry_kept: float | None


@dataclass(frozen=True)
class LayerProbe:
    """One row: a layer (with the activation folded into it, if any) at its first call.

    ``index`` is the 1-based position in forward order. ``activation`` names the folded-in
    activation module's type. ``act`` holds mean, std and max |a| of the layer's output (after the
    activation); ``dead_fraction`` the fraction of units 0 for every input, for rectifiers only.
    ``output_grad_std``: population std of d(loss)/d(output) (None without a backward pass).
    ``is_output``: this row's output is the model's output. ``residual``: the layer ends a residual
    branch (``initopt.init.mark_residual``, or a module named ``c_proj``): its output is added to a
    stream that carries the signal, so it may be small by design (GPT-2's ``1/sqrt(N)``, Fixup).
    """

    index: int
    name: str
    module_type: str
    description: str
    activation: str | None
    output_shape: tuple[int, ...]
    act: SignalStats
    dead_fraction: float | None
    weight: WeightProbe | None
    output_grad_std: float | None
    is_output: bool
    residual: bool = False

    @property
    def label(self) -> str:
        """``"Linear 256->256, ReLU"``."""
        return self.description + (f", {self.activation}" if self.activation else "")


@dataclass(frozen=True)
class Probe:
    """What one pass measured: the rows, the input's std and how the backward pass was seeded.

    ``backward`` is ``"loss <name>"``, ``"surrogate"`` (a fixed random cotangent of unit norm per
    example, so gradient scales do not depend on the output's scale) or ``"none"`` (no parameter
    needs a gradient). ``input_std`` is None for integer inputs (token ids).
    """

    layers: list[LayerProbe]
    input_std: float | None
    backward: str
    loss: float | None
    batch_size: int
    train_mode: bool


# -- keeping the model as it was -----------------------------------------------------------------
@contextmanager
def untouched(model: nn.Module, device: torch.device) -> Iterator[None]:
    """Restore every module's train/eval flag and every buffer on exit; fork the global RNG.

    Parameters and ``.grad`` are not saved: the probe never writes them.
    """
    modes = [(module, module.training) for module in model.modules()]
    # (owner, name, the tensor, a copy): a forward pass may update a buffer in place (BatchNorm) or
    # rebind it to a new tensor; either way the original tensor with its original values goes back.
    buffers = [
        (module, name, buffer, buffer.detach().clone())
        for module in model.modules()
        for name, buffer in module.named_buffers(recurse=False)
    ]
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            for module, training in modes:
                module.training = training
            with torch.no_grad():
                for module, name, buffer, saved in buffers:
                    module._buffers[name] = buffer
                    buffer.copy_(saved)


# -- describing modules --------------------------------------------------------------------------
def _is_activation(module: nn.Module) -> bool:
    in_activations = type(module).__module__ == "torch.nn.modules.activation"  # ReLU, Tanh, GELU, ... and attention
    return (in_activations and not isinstance(module, nn.MultiheadAttention)) or isinstance(module, nn.Identity)


def _is_layer(module: nn.Module) -> bool:
    return isinstance(module, nn.MultiheadAttention) or any(True for _ in module.parameters(recurse=False))


def _describe(module: nn.Module) -> str:
    name = type(module).__name__
    if isinstance(module, nn.Linear):
        return f"{name} {module.in_features}->{module.out_features}"
    if isinstance(module, _ConvNd):
        kernel = "x".join(map(str, module.kernel_size))
        return f"{name} {module.in_channels}->{module.out_channels} k{kernel}"
    if isinstance(module, nn.Embedding):
        return f"{name} {module.num_embeddings}x{module.embedding_dim}"
    if isinstance(module, _NormBase):
        return f"{name} {module.num_features}"
    if isinstance(module, nn.LayerNorm):
        return f"{name} {'x'.join(map(str, module.normalized_shape))}"
    if isinstance(module, nn.GroupNorm):
        return f"{name} {module.num_groups}x{module.num_channels // module.num_groups}"
    if isinstance(module, nn.MultiheadAttention):
        return f"{name} {module.embed_dim}, {module.num_heads} heads"
    return name


def _weight_and_bias(module: nn.Module) -> tuple[str, torch.Tensor, torch.Tensor | None] | None:
    """The parameter that sets the layer's scale (and its bias): ``weight``, or attention's ``in_proj_weight``."""
    if isinstance(module, nn.MultiheadAttention):
        weight = module.in_proj_weight if module.in_proj_weight is not None else module.q_proj_weight
        pname = "in_proj_weight" if module.in_proj_weight is not None else "q_proj_weight"
        return pname, weight, module.in_proj_bias
    weight = getattr(module, "weight", None)
    if isinstance(weight, torch.Tensor):
        bias = getattr(module, "bias", None)
        return "weight", weight, bias if isinstance(bias, torch.Tensor) else None
    for pname, param in module.named_parameters(recurse=False):
        if param.dim() >= 2:
            return pname, param, None
    return None


def _first_tensor(value: object) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        return next((item for item in value if isinstance(item, torch.Tensor)), None)
    return None


# -- recording -----------------------------------------------------------------------------------
@dataclass
class _Row:
    """A row while the pass runs: its module, the current output's stats, its gradient slot."""

    index: int
    name: str
    module: nn.Module
    unit_dim: int
    activation: nn.Module | None = None
    output: torch.Tensor | None = None
    act: SignalStats | None = None
    dead: float | None = None
    grad_std: float | None = None
    generation: int = 0  # the gradient of the latest capture (post-activation) wins
    shape: tuple[int, ...] = ()

    def capture(self, output: torch.Tensor, rectified: bool) -> None:
        self.generation += 1
        self.output, self.shape = output, tuple(output.shape)
        self.act = signal_stats(output)
        self.dead = dead_fraction(output, self.unit_dim) if rectified else None
        if output.requires_grad:
            generation = self.generation
            output.register_hook(self._grad_hook(generation))

    def _grad_hook(self, generation: int) -> Callable[[torch.Tensor], None]:
        def hook(grad: torch.Tensor) -> None:
            if generation == self.generation:
                self.grad_std = population_std(grad)

        return hook


class _Recorder:
    """Forward hooks on every candidate module; builds the rows in forward order."""

    def __init__(self, model: nn.Module) -> None:
        self.rows: list[_Row] = []
        self.seen: set[int] = set()
        self.handles = []
        for name, module in model.named_modules():
            leaf = not any(True for _ in module.children())
            if leaf or _is_layer(module):
                self.handles.append(module.register_forward_hook(self._hook(name)))

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()

    def _hook(self, name: str) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: tuple[object, ...], output: object) -> None:
            out = _first_tensor(output)
            if out is None or not out.is_floating_point():
                return
            if _is_activation(module):
                self._on_activation(name, module, inputs, out)
            elif _is_layer(module) and id(module) not in self.seen:
                self.seen.add(id(module))
                unit_dim = 1 if isinstance(module, _CHANNEL_FIRST) and out.dim() >= 3 else -1
                row = _Row(len(self.rows) + 1, name, module, unit_dim)
                row.capture(out, rectified=False)
                self.rows.append(row)

        return hook

    def _on_activation(self, name: str, module: nn.Module, inputs: tuple[object, ...], out: torch.Tensor) -> None:
        rectified = isinstance(module, _RECTIFIERS)
        last = self.rows[-1] if self.rows else None
        if last is not None and last.activation is None and inputs and inputs[0] is last.output:
            last.activation = module
            last.capture(out, rectified)
        elif not isinstance(module, nn.Identity) and id(module) not in self.seen:
            self.seen.add(id(module))
            unit_dim = last.unit_dim if last is not None and out.dim() >= 3 else -1
            row = _Row(len(self.rows) + 1, name, module, unit_dim)
            row.capture(out, rectified)
            self.rows.append(row)


def _weight_probe(module: nn.Module, grads: dict[int, torch.Tensor | None], backward: bool) -> WeightProbe | None:
    found = _weight_and_bias(module)
    if found is None:
        return None
    pname, weight, bias = found
    stats = signal_stats(weight)
    grad_w, grad_b = grads.get(id(weight)), None if bias is None else grads.get(id(bias))
    embedding = isinstance(module, nn.Embedding)
    matrix = weight.dim() >= 2 and not embedding
    fan_in = fan_out = None
    symmetry = kept = None
    if matrix:
        fan_in, fan_out = compute_fans(weight)
    if matrix or (embedding and weight.shape[1] > 1):
        # units on dim 0: a ConvTranspose's weight is (in, out, ...), an Embedding's (tokens, units)
        by_column = embedding or isinstance(module, _ConvTransposeNd)
        units = weight.transpose(0, 1) if by_column else weight
        grad_units = None
        if grad_w is not None:
            grad_units = grad_w.transpose(0, 1) if by_column else grad_w
        symmetry = duplicate_fraction(units, bias)
        finite = all(g is None or bool(torch.isfinite(g).all()) for g in (grad_w, grad_b))
        if backward and finite:  # NaN gradients say nothing about which units move together
            zeros_w = torch.zeros_like(units) if grad_units is None else grad_units
            kept = duplicate_fraction(units, bias, zeros_w, grad_b)
    return WeightProbe(
        parameter=pname,
        shape=tuple(weight.shape),
        std=stats.std,
        mean=stats.mean,
        all_zero=stats.max_abs == 0.0,
        fan_in=fan_in,
        fan_out=fan_out,
        he_std=None if fan_in is None else he_std(fan_in, _RELU_GAIN),
        xavier_std=None if fan_in is None or fan_out is None else glorot_std(fan_in, fan_out),
        lecun_std=None if fan_in is None else lecun_std(fan_in),
        bias_mean=None if bias is None else signal_stats(bias).mean,
        grad_std=None if grad_w is None else population_std(grad_w),
        symmetry=symmetry,
        symmetry_kept=kept,
    )


# -- the pass ------------------------------------------------------------------------------------
def _as_args(inputs: torch.Tensor | Sequence[torch.Tensor], device: torch.device) -> tuple[torch.Tensor, ...]:
    items = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    if not items or not all(isinstance(item, torch.Tensor) for item in items):
        raise ValueError("inputs must be a tensor (or a tuple of tensors, the model's positional inputs)")
    return tuple(item.to(device) for item in items)


def _surrogate_cotangent(output: torch.Tensor, seed: int) -> torch.Tensor:
    """A fixed N(0, 1) direction scaled to unit norm per example (dim 0 is the batch)."""
    generator = torch.Generator().manual_seed(seed)
    v = torch.randn(output.shape, generator=generator, dtype=torch.float64)
    if v.dim() >= 1 and v.numel():
        v = v / v.reshape(v.shape[0], -1).norm(dim=1).clamp_min(1e-12).reshape(-1, *[1] * (v.dim() - 1))
    return v.to(device=output.device, dtype=output.dtype)


def _pass(
    model: nn.Module,
    args: tuple[torch.Tensor, ...],
    targets: torch.Tensor | None,
    loss: Callable | None,
    seed: int,
    train: bool,
) -> tuple[list[LayerProbe], dict[int, torch.Tensor | None], str, float | None]:
    """One forward and one backward pass: the rows, the parameters' gradients (by id), how the backward began."""
    device = args[0].device
    params = [p for p in model.parameters() if p.requires_grad]
    recorder = _Recorder(model)
    grads: dict[int, torch.Tensor | None] = {}
    backward, loss_value, output = "none", None, None
    try:
        with untouched(model, device), torch.enable_grad():
            torch.manual_seed(seed)
            model.train(train)
            output = _first_tensor(model(*args))
            if output is not None and output.is_floating_point() and output.requires_grad and params:
                if loss is not None and targets is not None:
                    scalar = loss(output, targets.to(output.device))
                    backward = f"loss {getattr(loss, '__name__', type(loss).__name__)}"
                    loss_value = float(scalar.detach())
                else:
                    scalar = (output * _surrogate_cotangent(output, seed)).sum()
                    backward = SURROGATE
                found = torch.autograd.grad(scalar, params, allow_unused=True)
                grads = {id(p): g for p, g in zip(params, found, strict=True)}
    finally:
        recorder.remove()
    layers = [
        LayerProbe(
            index=row.index,
            name=row.name,
            module_type=type(row.module).__name__,
            description=_describe(row.module),
            activation=None if row.activation is None else type(row.activation).__name__,
            output_shape=row.shape,
            act=row.act,  # type: ignore[arg-type]
            dead_fraction=row.dead,
            weight=_weight_probe(row.module, grads, backward != "none"),
            output_grad_std=row.grad_std if backward != "none" else None,
            is_output=output is not None and row.output is output,
            residual=is_residual_projection(row.name, row.module),
        )
        for row in recorder.rows
    ]
    return layers, grads, backward, loss_value


def _blocked(layer: LayerProbe) -> bool:
    """A matrix weight whose gradient is exactly zero: its symmetry after one step says nothing yet."""
    weight = layer.weight
    return weight is not None and weight.symmetry_kept is not None and weight.grad_std == 0.0


def _movers(layers: list[LayerProbe]) -> list[LayerProbe]:
    """All-zero weights with a non-zero gradient: the first step moves them and unblocks what they block."""
    return [layer for layer in layers
            if layer.weight is not None and layer.weight.all_zero and layer.weight.grad_std not in (None, 0.0)]


def _after_unblocking(
    model: nn.Module, args: tuple[torch.Tensor, ...], targets: torch.Tensor | None, loss: Callable | None, seed: int,
    train: bool, layers: list[LayerProbe], grads: dict[int, torch.Tensor | None],
) -> list[LayerProbe]:
    """``symmetry_kept`` of blocked layers, measured once the zero layers that block them have moved.

    A zero output layer (or zero residual-branch ends, a zero BatchNorm scale) blocks every gradient
    upstream at the first step, so the layers behind it look symmetric; after one step it is no
    longer zero. On a copy of the model, each all-zero weight with a non-zero gradient takes a small
    step along its negative gradient (rms ``UNBLOCK_SCALE``) and the pass is repeated, up to
    ``MAX_UNBLOCK_ROUNDS`` times; a blocked layer takes the symmetry measured once its gradient is
    non-zero. Layers that stay blocked (a chain of zero layers: nothing ever moves) keep theirs.
    """
    pending = {i for i, layer in enumerate(layers) if _blocked(layer)}
    current, twin, resolved = model, None, list(layers)
    for _ in range(MAX_UNBLOCK_ROUNDS):
        movers = _movers(layers)
        if not pending or not movers:
            break
        if twin is None:
            try:
                twin = copy.deepcopy(model)
            except Exception:  # a model that cannot be copied keeps the one-step measurement
                break
        current_modules, twin_modules = dict(current.named_modules()), dict(twin.named_modules())
        with torch.no_grad():
            for layer in movers:
                source = _weight_and_bias(current_modules[layer.name])
                target = _weight_and_bias(twin_modules[layer.name])
                grad = None if source is None else grads.get(id(source[1]))
                if target is None or grad is None:
                    continue
                rms = float(grad.double().square().mean().sqrt())
                target[1].copy_(-grad * (UNBLOCK_SCALE / rms))
        layers, grads, _, _ = _pass(twin, args, targets, loss, seed, train)
        if [layer.name for layer in layers] != [layer.name for layer in resolved]:
            break  # the copy ran differently: keep what was measured
        current = twin
        for i in sorted(pending):
            weight = layers[i].weight
            if weight is not None and weight.grad_std not in (None, 0.0):
                kept = replace(resolved[i].weight, symmetry_kept=weight.symmetry_kept)  # type: ignore[arg-type]
                resolved[i] = replace(resolved[i], weight=kept)
                pending.discard(i)
    return resolved


def probe(
    model: nn.Module,
    inputs: torch.Tensor | Sequence[torch.Tensor],
    targets: torch.Tensor | None = None,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    *,
    seed: int = 0,
    train: bool = True,
) -> Probe:
    """Run ``model`` once forward and once backward on ``inputs`` and record every layer.

    The backward pass starts from ``loss(output, targets)`` when both are given, else from the
    surrogate ``sum(output * v)``, ``v`` a seeded random direction of unit norm per example.
    ``train`` runs the model in training mode (BatchNorm on batch statistics, dropout on), as the
    first training step sees it; False runs it in eval mode. Either way the model is restored.
    Layers whose gradient a zero layer blocks are measured again on a copy (:func:`_after_unblocking`).
    """
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    args = _as_args(inputs, device)
    first = args[0]
    input_std = signal_stats(first).std if first.is_floating_point() else None
    layers, grads, backward, loss_value = _pass(model, args, targets, loss, seed, train)
    if backward != "none":
        layers = _after_unblocking(model, args, targets, loss, seed, train, layers, grads)
    return Probe(layers, input_std, backward, loss_value, int(first.shape[0]) if first.dim() else 1, train)
