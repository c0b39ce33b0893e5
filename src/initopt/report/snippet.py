"""The winning configuration as code to paste: plain PyTorch, Keras 3, or a study spec (TOML).

``snippet(row, format)`` writes the init scheme and the optimizer of one stored configuration
(``ConfigRow``) in the other library's terms, exactly where an exact translation exists, and says so
in a comment where it does not. The weight-decay rules, written out:

- PyTorch ``AdamW`` and Keras 3 (every optimizer's ``weight_decay``, ``BaseOptimizer._apply_weight_decay``:
  ``variable - variable * wd * lr``, before the update) decay by ``p <- p - lr * wd * p``: the same rule,
  the same number.
- initopt's independent decay (``AdamW(decay="independent")``, Loshchilov & Hutter 2019's original
  form) is ``p <- p - wd * p``: at a constant learning rate that is PyTorch's and Keras's rule with
  ``wd / lr``.
- PyTorch ``Adam`` and ``SGD`` add ``wd * p`` to the gradient (L2). Keras's ``weight_decay`` is the
  decoupled rule above, so L2 goes in the loss instead: ``keras.regularizers.L2(wd / 2)`` on every
  kernel and bias (``d/dp (wd / 2) * p^2 = wd * p``).
"""

from __future__ import annotations

import math
from typing import Any

from initopt.study.store import ConfigRow

FORMATS = ("python", "keras", "toml")

_LAYERS = "(nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)"


def _num(value: Any) -> str:
    return repr(float(value)) if isinstance(value, float) else repr(value)


def _scheme(row: ConfigRow) -> tuple[str, dict[str, Any]]:
    """The scheme's canonical name and parameters (the store keeps its label and its parameters)."""
    return row.init.split("(", 1)[0], dict(row.init_params)


def _needs_data(name: str, params: dict[str, Any]) -> bool:
    """A scheme that rescales on a batch of training inputs (``lsuv``): its code takes the data."""
    from initopt.init import get, needs_batch

    try:
        return needs_batch(get({"name": name, **params}))
    except ValueError:  # a label the registry does not know (a model-wide scheme's): needs none
        return False


def _gain_squared(nonlinearity: str, a: float | None) -> float:
    import torch

    return torch.nn.init.calculate_gain(nonlinearity, a) ** 2


def torch_init_call(name: str, p: dict[str, Any]) -> str | None:
    """The ``torch.nn.init`` call that draws ``name`` with parameters ``p`` into ``module.weight``."""
    calls = {
        "zeros": "nn.init.zeros_(module.weight)",
        "constant": f"nn.init.constant_(module.weight, {_num(p.get('value', 0.0))})",
        "normal": f"nn.init.normal_(module.weight, mean={_num(p.get('mean', 0.0))}, std={_num(p.get('std', 1.0))})",
        "uniform": f"nn.init.uniform_(module.weight, a={_num(p.get('a', 0.0))}, b={_num(p.get('b', 1.0))})",
        "xavier_normal": f"nn.init.xavier_normal_(module.weight, gain={_num(p.get('gain', 1.0))})",
        "xavier_uniform": f"nn.init.xavier_uniform_(module.weight, gain={_num(p.get('gain', 1.0))})",
        "orthogonal": f"nn.init.orthogonal_(module.weight, gain={_num(p.get('gain', 1.0))})",
        "trunc_normal": (f"nn.init.trunc_normal_(module.weight, mean={_num(p.get('mean', 0.0))}, std={_num(p.get('std', 1.0))}, "
                         f"a={_num(p.get('a', -2.0))}, b={_num(p.get('b', 2.0))})"),
        "lecun_normal": "nn.init.kaiming_normal_(module.weight, nonlinearity='linear')",  # std 1 / sqrt(fan_in)
        "lecun_uniform": "nn.init.kaiming_uniform_(module.weight, nonlinearity='linear')",
    }
    if name in ("he_normal", "he_uniform"):
        a = p.get("a")
        extra = f", a={_num(a)}" if a is not None else ""
        fn = "kaiming_normal_" if name == "he_normal" else "kaiming_uniform_"
        return f"nn.init.{fn}(module.weight, mode={p.get('mode', 'fan_in')!r}, nonlinearity={p.get('nonlinearity', 'relu')!r}{extra})"
    return calls.get(name)


def keras_initializer(name: str, p: dict[str, Any]) -> tuple[str | None, str]:
    """The Keras 3 initializer of ``name`` and a note. Keras's ``HeNormal``, ``GlorotNormal`` and
    ``LecunNormal`` draw from a normal truncated at two standard deviations; initopt's (and PyTorch's)
    are not truncated, so the exact translation is ``VarianceScaling(..., distribution="untruncated_normal")``."""
    def scaling(scale: float, mode: str, distribution: str) -> str:
        return f'keras.initializers.VarianceScaling(scale={scale!r}, mode="{mode}", distribution="{distribution}")'

    note = ""
    if name == "zeros":
        return "keras.initializers.Zeros()", note
    if name == "constant":
        return f"keras.initializers.Constant({_num(p.get('value', 0.0))})", note
    if name == "normal":
        return f"keras.initializers.RandomNormal(mean={_num(p.get('mean', 0.0))}, stddev={_num(p.get('std', 1.0))})", note
    if name == "uniform":
        return f"keras.initializers.RandomUniform(minval={_num(p.get('a', 0.0))}, maxval={_num(p.get('b', 1.0))})", note
    if name in ("xavier_normal", "xavier_uniform"):
        kind = "untruncated_normal" if name.endswith("normal") else "uniform"
        return scaling(float(p.get("gain", 1.0)) ** 2, "fan_avg", kind), "not GlorotNormal: Keras truncates it" if kind != "uniform" else note
    if name in ("he_normal", "he_uniform"):
        kind = "untruncated_normal" if name.endswith("normal") else "uniform"
        scale = round(_gain_squared(p.get("nonlinearity", "relu"), p.get("a")), 12)
        return scaling(scale, p.get("mode", "fan_in"), kind), "not HeNormal: Keras truncates it" if kind != "uniform" else note
    if name in ("lecun_normal", "lecun_uniform"):
        kind = "untruncated_normal" if name.endswith("normal") else "uniform"
        return scaling(1.0, "fan_in", kind), "not LecunNormal: Keras truncates it" if kind != "uniform" else note
    if name == "orthogonal":
        return f"keras.initializers.Orthogonal(gain={_num(p.get('gain', 1.0))})", note
    if name == "trunc_normal":
        mean, std, a, b = (float(p.get(k, d)) for k, d in (("mean", 0.0), ("std", 1.0), ("a", -2.0), ("b", 2.0)))
        if math.isclose(a, mean - 2 * std) and math.isclose(b, mean + 2 * std):
            return f"keras.initializers.TruncatedNormal(mean={mean!r}, stddev={std!r})", note
        return None, "Keras truncates at two standard deviations only; this scheme's bounds differ"
    return None, f"Keras has no initializer for initopt's {name}"


def _torch_optimizer(row: ConfigRow, params: str = "model.parameters()", groups: bool = False) -> tuple[str, str]:
    """``torch.optim.X(params, ...)`` and the one line on its weight decay. ``groups``: ``params`` is a
    ``decay`` / ``no_decay`` pair of parameter lists, as param groups with the weight decay in them."""
    h = dict(row.hyper)
    lr, wd = float(h["lr"]), float(h.get("weight_decay", 0.0))
    if row.optimizer == "adamw" and h.get("decay", "coupled") == "independent":
        torch_wd = wd / lr
        note = (f"the study decayed independently of the lr (p <- p - {wd:g} * p per step); PyTorch's rule is "
                f"p <- p - lr * weight_decay * p, so weight_decay = {wd:g} / lr = {torch_wd:g} (exact at a constant lr)")
    else:
        torch_wd = wd
        note = ("decoupled decay: p <- p - lr * weight_decay * p" if row.optimizer == "adamw"
                else "weight decay as L2: wd * p added to the gradient")
    if groups:
        params, decay_arg = f'[{{"params": decay, "weight_decay": {torch_wd!r}}}, {{"params": no_decay, "weight_decay": 0.0}}]', ""
    else:
        decay_arg = f", weight_decay={torch_wd!r}"
    if row.optimizer == "sgd":
        args = f"lr={lr!r}, momentum={_num(h.get('momentum', 0.0))}, dampening={_num(h.get('dampening', 0.0))}{decay_arg}, nesterov={bool(h.get('nesterov', False))}"
        return f"torch.optim.SGD({params}, {args})", note
    if row.optimizer in NEWER:
        return _newer_optimizer(row, params, decay_arg)
    betas = tuple(h.get("betas", (0.9, 0.999)))
    common = f"lr={lr!r}, betas=({float(betas[0])!r}, {float(betas[1])!r}), eps={_num(h.get('eps', 1e-8))}, amsgrad={bool(h.get('amsgrad', False))}"
    name = "Adam" if row.optimizer == "adam" else "AdamW"
    return f"torch.optim.{name}({params}, {common}{decay_arg})", note


#: The optimizers past SGD, Adam and AdamW, and what their code says of them
NEWER = {
    "lion": "Lion (Chen et al. 2023): initopt.optim.Lion equals lion_pytorch.Lion; decoupled decay p <- p - lr * weight_decay * p",
    "muon": "Muon for the hidden matrices, AdamW for the rest (initopt.optim.muon_param_groups), as the study ran it",
    "adafactor": "torch.optim.Adafactor; the study set eps2 and left eps1 at the dtype's epsilon",
    "schedule_free_adamw": "schedule-free AdamW: call optimizer.train() before training steps and optimizer.eval() "
                           "before evaluating or saving (initopt.fit does)",
}


def _newer_optimizer(row: ConfigRow, params: str, decay_arg: str) -> tuple[str, str]:
    """The code of one of :data:`NEWER`, and its note."""
    h = dict(row.hyper)
    lr, wd = float(h["lr"]), float(h.get("weight_decay", 0.0))
    if row.optimizer == "muon":
        args = (f"lr={lr!r}, weight_decay={wd!r}, momentum={_num(h.get('momentum', 0.95))}, "
                f"nesterov={bool(h.get('nesterov', True))}, adjust_lr_fn={h.get('adjust_lr_fn', 'original')!r}")
        return f"initopt.optim.Muon(initopt.optim.muon_param_groups(model), {args})", NEWER["muon"]
    if row.optimizer == "lion":
        betas = tuple(h.get("betas", (0.9, 0.99)))
        decay = ', decay="independent"' if h.get("decay", "coupled") == "independent" else ""
        return (f"initopt.optim.Lion({params}, lr={lr!r}, betas=({float(betas[0])!r}, {float(betas[1])!r}){decay_arg}{decay})",
                NEWER["lion"])
    if row.optimizer == "adafactor":
        args = (f"lr={lr!r}, beta2_decay={_num(h.get('beta2_decay', -0.8))}, eps=(None, {_num(h.get('eps2', 1e-3))}), "
                f"d={_num(h.get('d', 1.0))}{decay_arg}")
        return f"torch.optim.Adafactor({params}, {args})", NEWER["adafactor"]
    betas = tuple(h.get("betas", (0.9, 0.999)))
    args = (f"lr={lr!r}, betas=({float(betas[0])!r}, {float(betas[1])!r}), eps={_num(h.get('eps', 1e-8))}{decay_arg}, "
            f"warmup_steps={int(h.get('warmup_steps', 0))}, r={_num(h.get('r', 0.0))}, "
            f"weight_lr_power={_num(h.get('weight_lr_power', 2.0))}")
    return f"initopt.optim.ScheduleFreeAdamW({params}, {args})", NEWER["schedule_free_adamw"]


def decay_rule_text(no_decay: tuple[str, ...]) -> str:
    """One sentence on which parameters the study's weight decay took (the report says it too)."""
    if not no_decay:
        return "The study decayed every parameter, biases and norms included."
    what = "biases, norm weights and embeddings" if "embedding" in no_decay else "biases and norm weights"
    return f"The study left {what} without decay (train.no_decay), as initopt.optim.param_groups does."


def _schedule(row: ConfigRow):
    from initopt.optim.schedules import schedule_of

    return schedule_of(row.hyper)


def lr_multiplier_source(schedule) -> list[str]:
    """A standalone ``lr_multiplier(t, total_steps)`` with the schedule's formula and numbers
    (initopt.optim.schedules; ``t`` counts optimizer steps from 0)."""
    lines = ["def lr_multiplier(t: int, total_steps: int) -> float:",
             f'    """{schedule.label}: the study\'s learning-rate schedule (the lr is lr * this at step t)."""']
    if schedule.name == "step":
        return lines + [f"    return {schedule.gamma!r} ** (t // max(1, round({schedule.step_fraction!r} * total_steps)))"]
    final = schedule.final
    lines += [f"    warmup = round({schedule.warmup_fraction!r} * total_steps)",
              "    if t < warmup:",
              "        return (t + 1) / warmup"]
    if schedule.name == "warmup-cosine":
        return lines + ["    progress = min(1.0, (t - warmup) / max(1, total_steps - warmup))",
                        f"    return {final!r} + (1 - {final!r}) * (1 + math.cos(math.pi * progress)) / 2"]
    shape = "(1 - progress)" if schedule.name == "wsd" else "(1 - math.sqrt(progress))"
    return lines + [f"    decay_start = total_steps - round({schedule.decay_fraction!r} * total_steps)",
                    "    if t < decay_start:",
                    "        return 1.0",
                    "    progress = min(1.0, (t - decay_start) / max(1, total_steps - decay_start))",
                    f"    return {final!r} + (1 - {final!r}) * {shape}"]


def python_snippet(row: ConfigRow, no_decay: tuple[str, ...] = ()) -> str:
    name, params = _scheme(row)
    call = torch_init_call(name, params)
    optimizer, decay_note = _torch_optimizer(row, "model.parameters()" if not no_decay else "", groups=bool(no_decay))
    optimizer = optimizer.replace("muon_param_groups(model)", f"muon_param_groups(model, no_decay={tuple(no_decay)!r})")
    lines = ["import torch", "from torch import nn", "", ""]
    if call is None or "initopt." in optimizer:
        lines[2:2] = ["", "import initopt"]
    if call is None and _needs_data(name, params):
        lines += ["def init_weights(model: nn.Module, data: torch.Tensor) -> None:",
                  f'    """{row.init}: drawn, then each layer rescaled on a batch of the training inputs ``data``, by initopt."""',
                  f"    initopt.init.initialize(model, {{'name': {name!r}, **{params!r}}}, 'zeros', data=data)"]
    elif call is None:
        lines += ["def init_weights(model: nn.Module) -> None:",
                  f'    """{row.init}: no plain torch.nn.init call draws it; initopt does (biases zero, norms one and zero)."""',
                  f"    initopt.init.initialize(model, {{'name': {name!r}, **{params!r}}}, 'zeros')"]
    else:
        lines += ["def init_weights(model: nn.Module) -> None:",
                  f'    """{row.init} on every weight of the Linear and Conv layers, biases zero, norms one and zero: what the',
                  '    study did (a model with embeddings or attention: initopt.init.initialize(model, ...) draws those too)."""',
                  "    for module in model.modules():",
                  f"        if isinstance(module, {_LAYERS}):",
                  f"            {call}",
                  "            if getattr(module, 'bias', None) is not None:",
                  "                nn.init.zeros_(module.bias)",
                  "        elif isinstance(module, (nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._NormBase)) and module.weight is not None:",
                  "            nn.init.ones_(module.weight)",
                  "            if module.bias is not None:",
                  "                nn.init.zeros_(module.bias)"]
    lines += ["", "",
              "def make_optimizer(model: nn.Module) -> torch.optim.Optimizer:",
              f'    """{decay_note}. {decay_rule_text(no_decay)}"""']
    if no_decay and row.optimizer != "muon":  # muon_param_groups applies the no-decay rule itself
        embeddings = " or isinstance(module, (nn.Embedding, nn.EmbeddingBag))" if "embedding" in no_decay else ""
        lines += ["    norms = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm)",
                  "    decay, no_decay, seen = [], [], set()",
                  "    for module_name, module in model.named_modules():",
                  "        for name, p in module.named_parameters(recurse=False):",
                  "            if id(p) in seen or not p.requires_grad:",
                  "                continue",
                  "            seen.add(id(p))",
                  '            full = f"{module_name}.{name}".lower()',
                  f'            exempt = isinstance(module, norms) or "bias" in full or "norm" in full{embeddings}',
                  "            (no_decay if exempt else decay).append(p)"]
    lines += [f"    return {optimizer}", ""]
    schedule = _schedule(row)
    if schedule is not None:
        lines = ["import math", *lines, "", *lr_multiplier_source(schedule), ""]  # math: the cosine
    lines += ["",
              f"torch.manual_seed({int(row.seed)})  # a seed the study ran; any other is another draw",
              "# model = ...  your model",
              "# init_weights(model)",
              "# optimizer = make_optimizer(model)"]
    if schedule is not None:
        lines += ["# total_steps = epochs * len(train_loader)  # the schedule spans every optimizer step of the run",
                  "# scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: lr_multiplier(t, total_steps))",
                  "# ... and scheduler.step() after each optimizer.step()"]
    return "\n".join([*lines, ""])


def keras_snippet(row: ConfigRow, no_decay: tuple[str, ...] = ()) -> str:
    name, params = _scheme(row)
    initializer, note = keras_initializer(name, params)
    h = dict(row.hyper)
    lr, wd = float(h["lr"]), float(h.get("weight_decay", 0.0))
    lines = ["import keras", ""]
    if initializer is None:
        lines.append(f"# {row.init}: {note}; choose the nearest Keras initializer by hand")
        lines.append("initializer = None")
    else:
        lines.append(f"initializer = {initializer}" + (f"  # {note}" if note else ""))
    lines.append("# pass kernel_initializer=initializer (and bias_initializer='zeros') to each Dense / Conv layer")
    regularizer = None
    if row.optimizer in NEWER:
        optimizer = _newer_keras(row, lines)
    elif row.optimizer == "sgd":
        if float(h.get("dampening", 0.0)):
            lines.append("# Keras's SGD has no dampening: the study's momentum with dampening has no exact Keras form")
        optimizer = f"keras.optimizers.SGD(learning_rate={lr!r}, momentum={_num(h.get('momentum', 0.0))}, nesterov={bool(h.get('nesterov', False))})"
        regularizer = wd
    else:
        betas = tuple(h.get("betas", (0.9, 0.999)))
        common = f"learning_rate={lr!r}, beta_1={float(betas[0])!r}, beta_2={float(betas[1])!r}, epsilon={_num(h.get('eps', 1e-8))}, amsgrad={bool(h.get('amsgrad', False))}"
        if row.optimizer == "adam":
            optimizer = f"keras.optimizers.Adam({common})"
            regularizer = wd
        elif h.get("decay", "coupled") == "independent":
            optimizer = f"keras.optimizers.AdamW({common}, weight_decay={wd / lr!r})"
            lines.append(f"# the study decayed p <- p - {wd:g} * p per step; Keras decays p <- p - lr * weight_decay * p: "
                         f"weight_decay = {wd:g} / lr (exact at a constant lr)")
        else:
            optimizer = f"keras.optimizers.AdamW({common}, weight_decay={wd!r})"
            lines.append("# Keras decays p <- p - lr * weight_decay * p, as PyTorch's AdamW: the same number")
        lines.append("# Keras adds epsilon before its bias correction, PyTorch after: the same up to eps * sqrt(1 - beta_2^t)")
    if regularizer:
        lines.append(f"# {row.optimizer}'s weight decay was L2 in the gradient (wd * p); Keras's weight_decay is decoupled, "
                     "so put it in the loss instead:")
        where = ("kernel_regularizer= on every layer (not on biases, norms" + (" or embeddings" if "embedding" in no_decay else "") + ")"
                 if no_decay else "kernel_regularizer= and bias_regularizer= on every layer")
        lines.append(f"regularizer = keras.regularizers.L2({regularizer / 2!r})  # {where}")
    schedule = _schedule(row)
    if schedule is not None:
        optimizer = optimizer.replace(f"learning_rate={lr!r}", "learning_rate=schedule", 1)
        lines += keras_schedule_lines(schedule, lr)
    lines.append(f"optimizer = {optimizer}")
    if no_decay and not regularizer:
        names = '["bias", "gamma", "beta"' + (', "embeddings"' if "embedding" in no_decay else "") + "]"
        lines.append(f"optimizer.exclude_from_weight_decay(var_names={names})  # {decay_rule_text(no_decay)}")
    lines.append("")
    return "\n".join(lines)


def keras_schedule_lines(schedule, lr: float) -> list[str]:
    """``schedule = ...``: the study's schedule as Keras's, where Keras has it."""
    lines = ["total_steps = ...  # epochs * steps per epoch: the schedule spans every optimizer step of the run"]
    if schedule.name == "warmup-cosine":
        return lines + [
            f"warmup = round({schedule.warmup_fraction!r} * total_steps)",
            f"schedule = keras.optimizers.schedules.CosineDecay(initial_learning_rate=0.0, decay_steps=total_steps - warmup, "
            f"alpha={schedule.final!r}, warmup_target={lr!r}, warmup_steps=warmup)",
            "# Keras warms up as lr * t / warmup (0 at the first step), the study as lr * (t + 1) / warmup: one step apart"]
    if schedule.name == "step":
        return lines + [
            f"size = max(1, round({schedule.step_fraction!r} * total_steps))",
            f"schedule = keras.optimizers.schedules.ExponentialDecay({lr!r}, decay_steps=size, decay_rate={schedule.gamma!r}, "
            "staircase=True)"]
    return lines + [f"# {schedule.label}: Keras has no warmup-stable-decay schedule; the study's multiplier is",
                    *(f"#   {line}" for line in lr_multiplier_source(schedule)),
                    "# as a keras.optimizers.schedules.LearningRateSchedule of your own (keras.ops for the branches)",
                    f"schedule = {lr!r}  # a constant lr until then"]


def _newer_keras(row: ConfigRow, lines: list[str]) -> str:
    """Keras's optimizer for one of :data:`NEWER` where it has one with the same rule, else a note and None."""
    h = dict(row.hyper)
    lr, wd = float(h["lr"]), float(h.get("weight_decay", 0.0))
    if row.optimizer == "lion" and h.get("decay", "coupled") == "coupled":
        betas = tuple(h.get("betas", (0.9, 0.99)))
        lines.append("# Keras decays p <- p - lr * weight_decay * p, as lion-pytorch: the same number")
        return f"keras.optimizers.Lion(learning_rate={lr!r}, beta_1={float(betas[0])!r}, beta_2={float(betas[1])!r}, weight_decay={wd!r})"
    lines.append(f"# {row.optimizer}: no Keras optimizer checked against the rule the study ran ({NEWER[row.optimizer]}); "
                 "the PyTorch code (--format python) is exact")
    return "None"


def toml_snippet(row: ConfigRow, no_decay: tuple[str, ...] = ()) -> str:
    """The configuration as a study spec's grid: run it again with more seeds, or around it."""
    name, params = _scheme(row)
    init = "{" + ", ".join([f'name = "{name}"', *(f"{k} = {_toml(v)}" for k, v in params.items() if v is not None)]) + "}"
    lines = ["[train]", f"no_decay = {_toml(list(no_decay))}", "", "[grid]", f"init = [{init}]", f"seeds = [{int(row.seed)}]", "", "[[grid.optimizer]]", f'name = "{row.optimizer}"']
    for key, value in row.hyper.items():
        lines.append(f"{key} = [{_toml(value)}]")
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


def usage_lines(row: ConfigRow, no_decay: tuple[str, ...] = ()) -> list[str]:
    """Two lines for the terminal: the init call and the optimizer, in PyTorch."""
    name, params = _scheme(row)
    call = torch_init_call(name, params)
    optimizer, _ = _torch_optimizer(row, groups=bool(no_decay))
    data = ", data=train.x" if call is None and _needs_data(name, params) else ""
    init = (f"{call.replace('module.weight', 'w')} for each Linear/Conv weight w, biases zero" if call
            else f"initopt.init.initialize(model, {row.init!r}{data})")
    notes = [*(["decay / no_decay: biases and norms apart"] if no_decay else []),
             *([f"lr schedule {_schedule(row).label}"] if _schedule(row) is not None else [])]
    if row.hyper.get("parametrization") == "mup":
        init += (f"; then groups = initopt.init.parametrize(model, \"mup\", base_width=BASE, scheme={row.init!r}) "
                 f"at width {row.hyper.get('width', 'yours')}")
        notes.insert(0, "muP: pass the groups (per-layer lr) instead of the parameters")
    return [init, optimizer + (f"  # {'; '.join(notes)}: see the full code" if notes else "")]


def snippet(row: ConfigRow, format: str = "python", no_decay: tuple[str, ...] = ()) -> str:
    """``row`` in ``format``; ``no_decay``: the study's ``train.no_decay`` (``StudyData.no_decay``)."""
    if format not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    from dataclasses import replace

    from initopt.study.spec import MODEL_AXES

    axes = {k: v for k, v in row.hyper.items() if k in MODEL_AXES}
    if axes:  # the model's width, depth and parametrization: not the optimizer's
        row = replace(row, hyper={k: v for k, v in row.hyper.items() if k not in MODEL_AXES})
    if format == "toml":
        text = toml_snippet(row, no_decay)
        return text.replace("[[grid.optimizer]]", "".join(f"{k} = [{_toml(v)}]\n" for k, v in axes.items())
                            + "\n[[grid.optimizer]]", 1) if axes else text
    text = {"python": python_snippet, "keras": keras_snippet}[format](row, no_decay)
    if not axes:
        return text
    model = ", ".join(f"{k}={v}" for k, v in axes.items())
    head = f"# the study's model at {model}"
    if axes.get("parametrization") == "mup":
        head += ("; muP: after init_weights, groups = initopt.init.parametrize(model, \"mup\", base_width=BASE, "
                 "scheme=...) gives each layer its lr multiplier; pass the groups to initopt.optim's optimizer "
                 "(torch.optim: initopt.init.with_lr(groups, lr, weight_decay)) in place of the single group below")
    return head + "\n" + text
