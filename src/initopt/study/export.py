"""Read a study back: one flat record per configuration (or per configuration and epoch), as CSV,
JSON, or a pandas DataFrame."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import fields
from pathlib import Path
from typing import Any

from initopt.study.store import DEFAULT_DB, SQLiteStore, StoreError

EXPORT_FORMATS = ("csv", "json")
# The columns that say which configuration an epoch row is of, first in every epoch row; the
# configuration's full init parameters and hyperparameters close the row.
EPOCH_CONFIG_KEYS = ("id", "init", "optimizer", "lr", "weight_decay", "momentum", "seed")


def resolve_study(store: SQLiteStore, name: str | None) -> str:
    """``name`` or, when the file holds exactly one study, that one."""
    if name:
        return store.study(name).name
    studies = [s.name for s in store.studies()]
    if len(studies) == 1:
        return studies[0]
    if not studies:
        raise StoreError(f"{store.path}: holds no study yet (run one with: initopt study run)")
    raise StoreError(f"{store.path}: holds several studies, name one with --study: {', '.join(studies)}")


def load(db: str | Path = DEFAULT_DB, name: str | None = None, *, epochs: bool = False, as_frame: bool = False) -> Any:
    """The study's configurations as flat dicts (``id, init, optimizer, lr, weight_decay, seed, status,
    epochs_run, train_loss, val_loss, val_metric, ..., rank``), or a pandas DataFrame with ``as_frame=True``.
    ``rank`` is the configuration's grid point's place in the study's ranking (the report's; seeds of one
    point share it).

    ``epochs=True``: one record per configuration and epoch stored (``id, init, optimizer, lr,
    weight_decay, momentum, seed, epoch, train_loss, train_metric, val_loss, val_metric, seconds``
    and every other column of the store's epochs, then ``init_params`` and ``hyper``), by
    configuration in the order they were added, then by epoch: learning curves, ready to plot."""
    if not Path(db).is_file():
        raise StoreError(f"{db}: no such database file")
    with SQLiteStore(db) as store:
        study = resolve_study(store, name)
        configs = store.configs(study)
        if epochs:
            records = _epoch_records(configs, store.epochs(study))
        else:
            records = [row.to_dict() for row in configs]
    records = _with_model_axes(records, {row.id: row for row in configs})
    if not epochs:
        ranks = candidate_ranks(db, study)
        for record in records:
            record["rank"] = ranks.get(record["id"])
    if not as_frame:
        return records
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("load(..., as_frame=True) needs pandas: pip install pandas") from None
    return pd.DataFrame.from_records(records)


def candidate_ranks(db: str | Path, study: str) -> dict[str, int]:
    """Each configuration's rank: that of its candidate (its grid point over seeds) in the study's one
    ranking (``report.data.ranked_candidates``, the terminal table's and the report's), 1 the best."""
    from initopt.report.data import load_study, ranked_candidates

    return {config_id: number for number, c in enumerate(ranked_candidates(load_study(db, study)), start=1)
            for config_id in c.config_ids}


def _with_model_axes(records: list[dict[str, Any]], by_id) -> list[dict[str, Any]]:
    """Each record with a ``width``, ``depth`` and ``parametrization`` column, after ``seed``, where the
    study's grid has that axis (the values live in each configuration's hyperparameters)."""
    from initopt.study.spec import MODEL_AXES

    axes = [a for a in MODEL_AXES if any(a in row.hyper for row in by_id.values())]
    if not axes:
        return records
    out = []
    for record in records:
        hyper = by_id[record["id"]].hyper  # a configuration's record, or an epoch's (which names it "id" too)
        ordered: dict[str, Any] = {}
        for name, value in record.items():
            ordered[name] = value
            if name == "seed":
                ordered.update((a, hyper.get(a)) for a in axes)
        out.append(ordered)
    return out


def _epoch_records(configs, epochs) -> list[dict[str, Any]]:
    """Each epoch record flattened beside the configuration it belongs to."""
    by_id = {row.id: row for row in configs}
    records = []
    for epoch in epochs:
        config = by_id[epoch.config_id]
        record = {key: getattr(config, key) for key in EPOCH_CONFIG_KEYS}
        record.update((f.name, getattr(epoch, f.name)) for f in fields(epoch) if f.name != "config_id")
        record["init_params"], record["hyper"] = config.init_params, config.hyper
        records.append(record)
    return records


def _cell(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True)
    return value


def to_csv(records: list[dict[str, Any]]) -> str:
    if not records:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: _cell(v) for k, v in record.items()})
    return out.getvalue()


def to_json(records: list[dict[str, Any]]) -> str:
    def clean(value):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    return json.dumps([clean(r) for r in records], indent=1, default=str) + "\n"
