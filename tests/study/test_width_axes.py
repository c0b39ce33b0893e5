"""Width, depth and parametrization as grid axes: ids, bundles, muP's models and groups, export, transfer."""

import math

import pytest

from initopt.study.spec import SpecError, load_spec, parse_spec


def raw(**grid):
    return {"name": "w", "workload": {"dataset": "seed-binary", "model": "mlp", "hidden": [16, 16], "base_width": 16},
            "train": {"epochs": 2, "batch_size": 64, "loss": "bce", "metric": "accuracy", "threads": 1},
            "grid": {"init": ["he_normal"], "seeds": [0, 1], **grid,
                     "optimizer": [{"name": "adamw", "lr": [1e-3, 4e-3]}]}}


def test_axes_expand_into_configurations_the_optimizer_never_sees():
    spec = load_spec(raw(width=[16, 64], parametrization=["sp", "mup"], depth=[1, 2]))
    configs = spec.configs()
    assert len(configs) == 2 * 2 * 2 * 2 * 2  # lrs x widths x depths x parametrizations x seeds
    assert {(c.model_axes["width"], c.model_axes["depth"], c.model_axes["parametrization"]) for c in configs} == \
           {(w, d, p) for w in (16, 64) for d in (1, 2) for p in ("sp", "mup")}
    assert all("width" not in c.optimizer_hyper and "parametrization" not in c.optimizer_hyper for c in configs)
    assert len({c.id for c in configs}) == len(configs)
    plain = load_spec(raw())
    without_base = raw()
    del without_base["workload"]["base_width"]
    assert [c.id for c in load_spec(without_base).configs()] != [c.id for c in plain.configs()]  # base_width is in the workload
    assert load_spec(plain.to_dict()).configs() == plain.configs()  # the stored spec names the same configurations
    assert load_spec(spec.to_dict()).configs() == configs


@pytest.mark.parametrize("grid, workload, message", [
    ({"parametrization": ["ntk"]}, {}, "grid.parametrization: expected one of sp, mup, got 'ntk'"),
    ({"width": [0]}, {}, "grid.width: expected whole numbers >= 1, got 0"),
    ({"width": 64}, {}, "grid.width: expected a non-empty list, got 64"),
    ({"depth": [2, 2]}, {}, "grid.depth: a value is listed twice: [2, 2]"),
    ({"parametrization": ["mup"]}, {"base_width": None},
     "workload.base_width: muP needs the width at which it equals SP: set workload.base_width"),
    ({}, {"base_width": 1.5}, "workload.base_width: expected a whole number >= 1, got 1.5"),
])
def test_bad_axes_name_their_field(grid, workload, message):
    spec = raw(**grid)
    spec["workload"].update(workload)
    spec["workload"] = {k: v for k, v in spec["workload"].items() if v is not None}
    with pytest.raises(SpecError, match="^spec: " + message.replace("[", r"\[").replace("]", r"\]")):
        parse_spec(spec)


def test_a_width_transfer_study_runs_exports_and_reports(tmp_path):
    from initopt.report import load_report, save_report
    from initopt.study.export import load
    from initopt.study.runner import run_study

    db = tmp_path / "w.db"
    report = run_study(raw(width=[16, 64], parametrization=["sp", "mup"]), db=db)
    assert report.counts == {"done": 16}
    assert not report.notices  # muP's bundles train bundled, with per-layer multipliers
    rows = load(db)
    assert list(rows[0])[:8] == ["id", "init", "optimizer", "lr", "weight_decay", "seed", "width", "parametrization"]
    by = {(r["width"], r["parametrization"], r["lr"], r["seed"]): r for r in rows}
    for lr in (1e-3, 4e-3):
        for seed in (0, 1):  # at the base width muP is SP: the engines agree within 1e-4
            assert by[(16, "mup", lr, seed)]["train_loss"] == pytest.approx(by[(16, "sp", lr, seed)]["train_loss"],
                                                                            abs=1e-4)
    computed = load_report(db)
    assert [p.parametrization for p in computed.transfer] == ["sp", "mup"]
    for panel in computed.transfer:
        assert [line.width for line in panel.lines] == [16, 64]
        assert all(line.lrs == (1e-3, 4e-3) and line.best_lr in line.lrs for line in panel.lines)
        assert panel.moves == max(l.best_lr for l in panel.lines) / min(l.best_lr for l in panel.lines)
        assert math.isfinite(panel.lines[0].best)
    html = save_report(computed, out=tmp_path / "w.html").read_text()
    assert "Width transfer" in html and "the best learning rate moves" in html


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_mup_bundles_train_as_the_sequential_engine_does(tmp_path, optimizer):
    """Per-layer lr and decay multipliers in the bundled optimizer: the sequential engine (initopt.fit with
    muP's param groups) gives the same epochs within 1e-4, at m = 4."""
    from initopt.study.export import load
    from initopt.study.runner import run_study

    spec = raw(width=[64], parametrization=["mup"])
    spec["grid"]["optimizer"] = [{"name": optimizer, "lr": [1e-2], "weight_decay": [1e-2],
                                  **({"momentum": [0.9]} if optimizer == "sgd" else {})}]
    spec["train"]["no_decay"] = ["bias", "norm"]
    rows = {}
    for engine in ("bundled", "sequential"):
        run_study(spec, db=tmp_path / f"{engine}.db", engine=engine)
        rows[engine] = {(r["id"], r["epoch"]): r for r in load(tmp_path / f"{engine}.db", epochs=True)}
    assert rows["bundled"].keys() == rows["sequential"].keys() and len(rows["bundled"]) == 4
    for key, row in rows["bundled"].items():
        assert row["train_loss"] == pytest.approx(rows["sequential"][key]["train_loss"], abs=1e-4)
        assert row["val_loss"] == pytest.approx(rows["sequential"][key]["val_loss"], abs=1e-4)
