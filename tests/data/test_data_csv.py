"""csv:PATH:TARGET: task inference, standardization and every error, each file written in tmp_path."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import initopt.data
from initopt.data import DataError


def table(header: str, rows: list[str]) -> str:
    return "\n".join([header, *rows]) + "\n"


def numbered(n: int, target=lambda i: i % 2) -> str:
    """n rows of two features (a, b) and a target column 'label' computed from the row index."""
    return table("a,b,label", [f"{i * 0.5},{(i * 7) % 5},{target(i)}" for i in range(n)])


# (target values by row index, expected task, expected classes)
GOOD_TARGETS = [
    pytest.param(lambda i: i % 2, "binary", ("0", "1"), id="binary-0-1"),
    pytest.param(lambda i: [-1, 1][i % 2], "binary", ("-1", "1"), id="binary-minus-plus"),
    pytest.param(lambda i: ["yes", "no"][i % 2], "binary", ("no", "yes"), id="binary-strings"),
    pytest.param(lambda i: [3, 1, 2][i % 3], "multiclass", ("1", "2", "3"), id="multiclass-ints"),
    pytest.param(lambda i: ["cat", "dog", "bird"][i % 3], "multiclass", ("bird", "cat", "dog"), id="multiclass-strings"),
    pytest.param(lambda i: f"{i * 0.37:.2f}", "regression", (), id="regression-floats"),
    pytest.param(lambda i: i, "regression", (), id="regression-many-integers"),  # 150 distinct > 100
]


@pytest.mark.parametrize("target, task, classes", GOOD_TARGETS)
def test_good_csv(write, target, task, classes):
    path = write("data.csv", numbered(150, target))
    train, test = initopt.data.load(f"csv:{path}:label")
    info = train.info
    assert (info.task, info.classes, info.input_shape, info.n_train, info.n_test) == (task, classes, (2,), 120, 30)
    assert info.name == f"csv:{path}:label"
    assert train.x.dtype == torch.float32
    assert train.y.dtype == (torch.int64 if task == "multiclass" else torch.float32)
    if task != "regression":
        assert set(torch.cat([train.y, test.y]).long().tolist()) == set(range(len(classes)))
        # stratified: each class keeps its share in the test part
        counts = torch.bincount(test.y.long(), minlength=len(classes))
        assert counts.max() - counts.min() <= 1
    assert torch.allclose(train.x.mean(0), torch.zeros(2), atol=1e-5)


def test_string_labels_keep_their_meaning(write):
    rows = [f"{i},{'yes' if i >= 10 else 'no'}" for i in range(20)]
    train, test = initopt.data.load(f"csv:{write('d.csv', table('v,answer', rows))}:answer")
    assert train.info.classes == ("no", "yes")
    for split in (train, test):
        raw_v = split.scaler.inverse_transform(split.x)[:, 0]
        assert torch.equal(split.y, (raw_v >= 9.5).float())


def test_target_column_anywhere_and_quoted_fields(write):
    text = '"b",label,"a"\n' + "".join(f'"{i}",{i % 2},"{i * 2}"\n' for i in range(10))
    train, _ = initopt.data.load(f"csv:{write('q.csv', text)}:label")
    assert train.info.n_features == 2 and train.info.task == "binary"


def test_path_with_colons_splits_on_the_last_colon(write):
    path = write("odd:dir/with:colon.csv", numbered(20))
    assert initopt.data.load(f"csv:{path}:label").info.n_train == 16


def test_bom_and_blank_lines_are_fine(write):
    text = "\ufeffa,b,label\n\n" + "".join(f"{i},{i % 3},{i % 2}\n\n" for i in range(10))
    assert initopt.data.load(f"csv:{write('bom.csv', text)}:label").info.classes == ("0", "1")


def test_constant_feature_gets_std_one(write):
    path = write("c.csv", table("a,k,label", [f"{i},5,{i % 2}" for i in range(20)]))
    train, test = initopt.data.load(f"csv:{path}:label")
    assert train.scaler.std[1] == 1
    assert (train.x[:, 1] == 0).all() and (test.x[:, 1] == 0).all()


def test_cached_until_the_file_changes(write):
    path = write("e.csv", numbered(20))
    spec = f"csv:{path}:label"
    first = initopt.data.load(spec)
    assert initopt.data.load(spec) is first
    path.write_text(numbered(30))
    os.utime(path, ns=(1, 10**18))  # a distinct mtime even on coarse-grained file systems
    assert initopt.data.load(spec).info.n_train == 24


# (file text or bytes, target, fragments the message must contain); {p} is the file's path.
BAD_FILES = [
    pytest.param(b"", "label", ["{p}: empty file"], id="empty-file"),
    pytest.param("\n\n", "label", ["{p}: empty file"], id="only-blank-lines"),
    pytest.param("a,b,label\n", "label", ["{p}: no data rows after the header (line 1)"], id="header-only"),
    pytest.param(
        numbered(10), "lable",
        ["{p}: no target column 'lable'; did you mean 'label'? the columns are: 'a', 'b', 'label'"],
        id="missing-target-suggest",
    ),
    pytest.param(numbered(10), "zzz", ["{p}: no target column 'zzz'; the columns are: 'a', 'b', 'label'"], id="missing-target"),
    pytest.param(
        table("age,label", [f"{i},{i % 2}" for i in range(15)] + ["abc,1"]), "label",
        ["{p}: column 'age', line 17: 'abc' is not a number"],
        id="non-numeric-feature",
    ),
    pytest.param(
        table("a,age,label", ["1,2,0", "3,,1", "4,5,0"]), "label", ["{p}: column 'age', line 3: empty cell"], id="empty-feature-cell"
    ),
    pytest.param(
        table("a,label", ["1,0", "nan,1", "2,0"]), "label",
        ["{p}: column 'a', line 3: 'nan' is not a finite number"],
        id="nan-feature",
    ),
    pytest.param(table("a,label", ["1,0", "2,1", "-inf,0"]), "label", ["column 'a', line 4: '-inf' is not a finite"], id="inf-feature"),
    pytest.param(table("a,y", ["1,0.5", "2,", "3,1.5"]), "y", ["{p}: column 'y', line 3: empty cell"], id="empty-target"),
    pytest.param(table("a,y", ["1,0.5", "2,nan", "3,1.5"]), "y", ["column 'y', line 3: 'nan' is not a finite"], id="nan-target"),
    pytest.param(
        table("a,y", ["1,0", "2,1", "3,NA", "4,1"]), "y",
        ["{p}: column 'y', line 4: 'NA' is not a number, but line 2 holds the number '0'"],
        id="mixed-target",
    ),
    pytest.param(
        table("a,b,label", ["1,2,0", "3,4", "5,6,1"]), "label",
        ["{p}: line 3 has 2 fields but the header (line 1) has 3"],
        id="ragged-short",
    ),
    pytest.param(table("a,label", ["1,0", "2,1,9"]), "label", ["line 3 has 3 fields"], id="ragged-long"),
    pytest.param(numbered(5), "label", ["{p}: 5 rows are too few to split 80/20", "need at least 6 rows"], id="too-few-rows"),
    pytest.param(
        numbered(12, lambda i: "c" if i == 3 else "ab"[i % 2]), "label", ["{p}: class 'c' has only 1 row"], id="singleton-class"
    ),
    pytest.param(numbered(10, lambda i: 1), "label", ["{p}: column 'label': every row has the label '1'"], id="single-class"),
    pytest.param(numbered(150, lambda i: f"id{i}"), "label", ["column 'label': 150 distinct labels"], id="id-column"),
    pytest.param(table("label", ["0", "1"]), "label", ["there are no feature columns"], id="no-features"),
    pytest.param(table("a,a,label", ["1,2,0"]), "label", ["column name 'a' appears more than once"], id="duplicate-column"),
    pytest.param("a,label\n1,\xe9\n".encode("latin-1"), "label", ["{p}: not UTF-8 text"], id="not-utf8"),
]


@pytest.mark.parametrize("content, target, fragments", BAD_FILES)
def test_bad_csv(write, content, target, fragments):
    path = write("data.csv", content)
    with pytest.raises(DataError) as err:
        initopt.data.load(f"csv:{path}:{target}")
    message = str(err.value)
    assert message.startswith(str(path))
    for fragment in fragments:
        assert fragment.format(p=path) in message


def test_line_numbers_count_blank_lines_and_multiline_fields(write):
    text = 'a,note,label\n\n1,"two\nlines",0\n\n2,x,1\nabc,y,0\n'
    with pytest.raises(DataError, match="column 'a', line 7: 'abc' is not a number"):
        initopt.data.load(f"csv:{write('gaps.csv', text)}:label")


def test_missing_file_suggests_a_close_name(write):
    path = write("train.csv", numbered(10))
    wrong = path.with_name("trian.csv")
    with pytest.raises(DataError, match="no such file") as err:
        initopt.data.load(f"csv:{wrong}:label")
    assert str(err.value) == f"{wrong}: no such file; did you mean {str(path)!r}?"


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        initopt.data.load(f"csv:{tmp_path / 'nope' / 'x.csv'}:label")


def test_a_folder_is_not_a_file(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        initopt.data.load(f"csv:{tmp_path}:label")


@pytest.mark.parametrize("spec", ["csv:data.csv", "csv::label", "csv:data.csv:", "csv:C:/data/x.csv"])
def test_malformed_csv_spec(spec):
    with pytest.raises(ValueError, match="csv:PATH:TARGET_COLUMN"):
        initopt.data.load(spec)


def test_errors_are_value_errors():
    assert issubclass(DataError, ValueError)


def test_large_csv_parses_quickly(write):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5000, 20))
    rows = [",".join(f"{v:.5f}" for v in row) + f",{int(row[0] > 0)}" for row in x]
    path = write("big.csv", table(",".join(f"f{j}" for j in range(20)) + ",y", rows))
    train, test = initopt.data.load(f"csv:{path}:y")
    assert (train.info.n_train, train.info.n_test, train.info.task) == (4000, 1000, "binary")
