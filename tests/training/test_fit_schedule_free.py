"""``fit`` switches an optimizer with ``train()``/``eval()`` (Schedule-Free AdamW) by itself: y while
training, the average x for validation, callbacks after the steps and the model it returns.

The oracle is the loop the schedulefree README asks users to write (``opt.train()`` before each
epoch's steps, ``opt.eval()`` before evaluating), run on the same data, order and seed: parameters
and state must agree bitwise.
"""

import copy

import pytest
import torch
from torch import nn

from initopt.optim import ScheduleFreeAdamW
from initopt.training import EarlyStopping, evaluate, fit
from initopt.training.callbacks import Callback
from initopt.training.losses import bce
from initopt.training.loop import has_modes

EPOCHS, BATCH, SEED = 3, 64, 4


def make_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))


def make_optimizer(model):
    return ScheduleFreeAdamW(model.parameters(), lr=1e-2, warmup_steps=5, weight_decay=1e-3)


def by_hand(model, opt, x, y, validation, epochs=EPOCHS):
    """The user's loop: train() before the steps of each epoch, eval() before evaluating."""
    order_rng = torch.Generator().manual_seed(SEED)
    val_losses = []
    for _ in range(epochs):
        opt.train()
        model.train()
        order = torch.randperm(len(x), generator=order_rng)
        for start in range(0, len(x), BATCH):
            idx = order[start : start + BATCH]
            opt.zero_grad(set_to_none=True)
            bce(model(x[idx]), y[idx]).backward()
            opt.step()
        opt.eval()
        val_losses.append(evaluate(model, validation, loss="bce")["loss"])
    return val_losses


def assert_same(model, opt, reference, ref_opt):
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.equal(p, q)
        for key in ("z", "exp_avg_sq"):
            assert torch.equal(opt.state[p][key], ref_opt.state[q][key])
    assert opt.train_mode == ref_opt.train_mode


def test_fit_equals_the_loop_that_switches_train_and_eval(xor_data):
    x, y = xor_data
    validation = (x[:128], y[:128])
    model, reference = make_model(), make_model()
    opt, ref_opt = make_optimizer(model), make_optimizer(reference)
    history = fit(model, opt, (x, y), loss="bce", epochs=EPOCHS, batch_size=BATCH, validation=validation, seed=SEED, verbose=0)
    val_losses = by_hand(reference, ref_opt, x, y, validation)
    assert_same(model, opt, reference, ref_opt)
    assert history.history["val_loss"] == val_losses  # validated at x
    # a second fit goes on from the same point as the loop does
    fit(model, opt, (x, y), loss="bce", epochs=1, batch_size=BATCH, validation=validation, seed=SEED, verbose=0)
    by_hand(reference, ref_opt, x, y, validation, epochs=1)
    assert_same(model, opt, reference, ref_opt)


def test_the_returned_model_holds_the_average_x(xor_data):
    x, y = xor_data
    model = make_model()
    opt = make_optimizer(model)
    fit(model, opt, (x, y), loss="bce", epochs=2, batch_size=BATCH, verbose=0)
    assert not opt.train_mode
    beta1 = opt.param_groups[0]["betas"][0]
    average = [p.detach().clone() for p in model.parameters()]
    opt.train()  # y = beta1 x + (1 - beta1) z
    for p, x_p in zip(model.parameters(), average, strict=True):
        expected_y = beta1 * x_p + (1 - beta1) * opt.state[p]["z"]
        torch.testing.assert_close(p.detach(), expected_y, rtol=1e-5, atol=1e-6)
        assert not torch.equal(p.detach(), x_p)


class Modes(Callback):
    """Records the optimizer's mode and the weights each hook sees."""

    def __init__(self):
        self.seen, self.weights = [], {}

    def _note(self, hook):
        self.seen.append((hook, self.state.optimizer.train_mode))

    def on_train_begin(self, logs=None):
        self._note("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self._note("epoch_begin")

    def on_batch_end(self, batch, logs=None):
        self._note("batch_end")

    def on_epoch_end(self, epoch, logs=None):
        self._note("epoch_end")
        self.weights[epoch] = copy.deepcopy(self.state.model.state_dict())

    def on_train_end(self, logs=None):
        self._note("train_end")


def test_callbacks_see_y_during_the_steps_and_x_after_them(xor_data):
    x, y = xor_data
    model = make_model()
    modes = Modes()
    fit(model, make_optimizer(model), (x[:128], y[:128]), loss="bce", epochs=2, batch_size=BATCH, verbose=0, callbacks=[modes])
    epoch = [("epoch_begin", True), ("batch_end", True), ("batch_end", True), ("epoch_end", False)]
    assert modes.seen == [("train_begin", False), *epoch, *epoch, ("train_end", False)]


def test_early_stopping_keeps_and_restores_the_average(xor_data):
    x, y = xor_data
    validation = (x[:128], y[:128])
    model, reference = make_model(), make_model()
    modes = Modes()
    stopping = EarlyStopping(monitor="val_loss", patience=EPOCHS, restore_best_weights=True)
    history = fit(model, make_optimizer(model), (x, y), loss="bce", epochs=EPOCHS, batch_size=BATCH, validation=validation,
                  seed=SEED, verbose=0, callbacks=[modes, stopping])
    by_hand(reference, make_optimizer(reference), x, y, validation, epochs=stopping.best_epoch + 1)
    best = history.history["val_loss"].index(min(history.history["val_loss"]))
    assert stopping.best_epoch == best
    for name, tensor in reference.state_dict().items():
        assert torch.equal(modes.weights[best][name], tensor)
        assert torch.equal(model.state_dict()[name], tensor)


def test_a_diverged_or_interrupted_fit_hands_back_x(xor_data):
    x, y = xor_data

    def nan_at_step_3(output, target, calls=[0]):  # noqa: B006  (a counter across calls)
        calls[0] += 1
        return bce(output, target) * (float("nan") if calls[0] == 3 else 1.0)

    model = make_model()
    opt = make_optimizer(model)
    history = fit(model, opt, (x, y), loss=nan_at_step_3, metrics=(), epochs=2, batch_size=BATCH, verbose=0)
    assert history.diverged and not opt.train_mode

    class Interrupt(Callback):
        def on_batch_end(self, batch, logs=None):
            raise KeyboardInterrupt

    opt = make_optimizer(model)
    with pytest.raises(KeyboardInterrupt):
        fit(model, opt, (x, y), loss="bce", epochs=2, batch_size=BATCH, verbose=0, callbacks=[Interrupt()])
    assert not opt.train_mode and opt.state  # it had stepped once, in train mode


def test_only_optimizers_with_their_own_train_and_eval_are_switched():
    model = make_model()

    class Switching:
        def train(self):
            pass

        def eval(self):
            pass

    assert has_modes(make_optimizer(model)) and has_modes(Switching())
    assert not has_modes(torch.optim.AdamW(model.parameters()))
    assert not has_modes(model)  # a Module's train/eval are the module's
