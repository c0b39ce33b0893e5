import io
import math

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

import initopt
from initopt.training import EarlyStopping, History, evaluate, fit
from initopt.training.callbacks import Callback
from initopt.training.progress import ProgressLine


def make_model(seed=0, n_in=8, out=1):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(n_in, 32), nn.ReLU(), nn.Linear(32, out))


def test_fit_learns_and_records_keras_history(xor_data):
    x, y = xor_data
    model = make_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = fit(model, opt, (x, y), loss="bce", epochs=8, batch_size=32, validation=(x[:128], y[:128]), verbose=0)
    assert isinstance(history, History)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 8 for v in history.history.values())
    assert history.epoch == list(range(8)) and history.epochs == 8
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.85
    assert not history.diverged


def test_epoch_loss_is_the_mean_over_batches_with_weights_before_each_step(xor_data):
    x, y = xor_data
    model = make_model()
    reference = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    history = fit(model, opt, (x[:100], y[:100]), loss="bce", epochs=1, batch_size=32, seed=5, verbose=0)
    order = torch.randperm(100, generator=torch.Generator().manual_seed(5))
    total = 0.0
    for start in range(0, 100, 32):
        idx = order[start : start + 32]
        ref_opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(reference(x[idx]).squeeze(-1), y[idx])
        loss.backward()
        ref_opt.step()
        total += loss.item() * len(idx)
    assert history.history["loss"][0] == pytest.approx(total / 100, rel=1e-6)
    for a, b in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(a, b)


def test_same_seed_same_history_and_global_rng_untouched(xor_data):
    x, y = xor_data

    def run(seed, global_seed):
        model = nn.Sequential(*make_model(), nn.Dropout(0.2))
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        torch.manual_seed(global_seed)
        before = torch.random.get_rng_state()
        history = fit(model, opt, (x, y), loss="bce", epochs=3, seed=seed, verbose=0).history
        assert torch.equal(before, torch.random.get_rng_state())
        return history

    first = run(7, global_seed=1)
    assert run(7, global_seed=999) == first  # the caller's RNG state does not change the run
    assert run(8, global_seed=1) != first


def test_non_finite_loss_stops_with_diverged_history_not_an_exception(xor_data, capsys):
    x, y = xor_data
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=1e6)
    history = fit(model, opt, (x * 1e3, y), loss="mse", metrics=(), epochs=20, verbose=2)
    assert history.diverged and history.diverged_epoch is not None
    assert history.epochs == history.diverged_epoch < 20
    assert math.isnan(history.history["loss"][-1])
    assert "diverged" in capsys.readouterr().out


def test_keras_epoch_line_format(xor_data, capsys):
    x, y = xor_data
    model = make_model()
    fit(model, torch.optim.Adam(model.parameters()), (x, y), loss="bce", epochs=2, batch_size=128,
        validation=(x[:64], y[:64]), verbose=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    import re

    pattern = r"^Epoch 2/2 - 4/4 - [\d.]+(ms|s|us) - loss: \d\.\d{4} - accuracy: \d\.\d{4} - val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4}$"
    assert re.match(pattern, lines[1]), lines[1]


def test_verbose_zero_prints_nothing(xor_data, capsys):
    x, y = xor_data
    model = make_model()
    fit(model, torch.optim.Adam(model.parameters()), (x, y), loss="bce", epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


def test_progress_bar_redraws_in_place_on_a_terminal():
    stream = io.StringIO()
    line = ProgressLine(epochs=3, steps=10, stream=stream, bar=True)
    line.begin_epoch(1)
    line.update(10, {"loss": 0.5})
    line.end_epoch(10, {"loss": 0.5})
    text = stream.getvalue()
    assert "\r" in text and "[====================]" in text and text.endswith("loss: 0.5000\x1b[K\n")


class PairDataset(Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def test_dataset_input_gives_the_same_result_as_tensors(xor_data):
    x, y = xor_data
    runs = []
    for data in ((x, y), PairDataset(x, y)):
        model = make_model()
        runs.append(fit(model, torch.optim.SGD(model.parameters(), lr=0.1), data, loss="bce", epochs=2, verbose=0).history)
    assert runs[0]["loss"] == pytest.approx(runs[1]["loss"], rel=1e-6)


def test_multiclass_cross_entropy_and_callable_metric():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 5, generator=g)
    y = x[:, :3].argmax(dim=1)
    model = make_model(n_in=5, out=3)

    def top2(output, target):
        return (output.topk(2, dim=1).indices == target[:, None]).any(dim=1).float().mean()

    history = fit(model, torch.optim.Adam(model.parameters(), lr=1e-2), (x, y), loss="cross_entropy",
                  metrics=("accuracy", top2), epochs=10, verbose=0)
    assert history.history["accuracy"][-1] > 0.8
    assert history.history["top2"][-1] >= history.history["accuracy"][-1]


def test_binary_crossentropy_on_probabilities_thresholds_at_half(xor_data):
    x, y = xor_data
    model = nn.Sequential(make_model(), nn.Sigmoid())
    history = fit(model, torch.optim.Adam(model.parameters(), lr=1e-2), (x, y), loss="binary_crossentropy", epochs=6, verbose=0)
    assert history.history["accuracy"][-1] > 0.8
    logits = model[0](x).squeeze(-1)
    expected = ((logits > 0).float() == y).float().mean().item()
    assert evaluate(model, (x, y), loss="binary_crossentropy")["accuracy"] == pytest.approx(expected)


def test_early_stopping_stops_and_restores_best_weights(xor_data):
    x, y = xor_data
    model = make_model()
    stopper = EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    # lr large enough that validation loss stops improving quickly
    history = fit(model, torch.optim.SGD(model.parameters(), lr=2.0), (x, y), loss="bce", epochs=50,
                  validation=(x[:64], y[:64]), callbacks=[stopper], verbose=0)
    assert history.stopped_early and history.epochs < 50
    best = min(history.history["val_loss"])
    assert evaluate(model, (x[:64], y[:64]), loss="bce")["loss"] == pytest.approx(best, rel=1e-5)


def test_callbacks_see_every_hook_in_order(xor_data):
    x, y = xor_data
    events = []

    class Recorder(Callback):
        def on_train_begin(self, logs=None):
            events.append("begin")

        def on_epoch_end(self, epoch, logs=None):
            events.append(f"epoch{epoch}:{sorted(logs)}")
            if epoch == 1:
                self.state.stop_training = True

        def on_train_end(self, logs=None):
            events.append("end")

    model = make_model()
    fit(model, torch.optim.SGD(model.parameters(), lr=0.1), (x, y), loss="bce", epochs=5, callbacks=[Recorder()], verbose=0)
    assert events == ["begin", "epoch0:['accuracy', 'loss']", "epoch1:['accuracy', 'loss']", "end"]


@pytest.mark.parametrize(
    "kwargs, field",
    [({"epochs": -1}, "epochs"), ({"batch_size": 0}, "batch_size"), ({"loss": "bcee"}, "bce"), ({"metrics": ("acuracy",)}, "accuracy")],
)
def test_bad_arguments_name_the_field(xor_data, kwargs, field):
    x, y = xor_data
    model = make_model()
    args = {"loss": "bce", "verbose": 0, **kwargs}
    with pytest.raises(ValueError, match=field):
        fit(model, torch.optim.SGD(model.parameters(), lr=0.1), (x, y), **args)


def test_fit_is_reachable_from_the_package():
    assert initopt.fit is fit and initopt.History is History


def test_early_stopping_restores_best_weights_even_without_stopping(xor_data):
    x, y = xor_data
    model = make_model()
    stopper = EarlyStopping(monitor="val_loss", patience=100, restore_best_weights=True)
    history = fit(model, torch.optim.SGD(model.parameters(), lr=2.0), (x, y), loss="bce", epochs=6,
                  validation=(x[:64], y[:64]), callbacks=[stopper], verbose=0)
    assert not history.stopped_early
    best = min(history.history["val_loss"])
    assert evaluate(model, (x[:64], y[:64]), loss="bce")["loss"] == pytest.approx(best, rel=1e-5)


def test_early_stopping_baseline_must_be_beaten_within_patience(xor_data):
    x, y = xor_data
    model = make_model()
    stopper = EarlyStopping(monitor="val_accuracy", patience=2, baseline=1.01)  # unreachable
    history = fit(model, torch.optim.Adam(model.parameters(), lr=1e-2), (x, y), loss="bce", epochs=20,
                  validation=(x[:64], y[:64]), callbacks=[stopper], verbose=0)
    assert history.stopped_early and history.epochs < 20  # stops at the first epoch without improvement once patience is spent
