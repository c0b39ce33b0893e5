"""``initopt train`` on the datasets with options and files of their own, through real subprocesses."""

import pytest


def test_train_takes_data_options_and_image_datasets(cli):
    result = cli("train", "--dataset", "digits-images", "--hidden", "16", "--epochs", "1", "--verbose", "2")
    assert result.returncode == 0, result.stderr
    assert "digits-images: 1149 train / 288 validation / 360 test" in result.stdout


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--dataset", "text:missing.txt"], "missing.txt: no such file"),
        (["--dataset", "modular-addition", "--data-option", "p=1"], "--data-option p: dataset 'modular-addition' option 'p': must be in [2, 1000], got 1"),
    ],
    ids=["missing-text", "bad-option"],
)
def test_bad_data_is_one_line_and_exit_2(cli, tmp_path, args, fragment):
    result = cli("train", "--epochs", "1", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr


def test_empty_text_file_is_one_line_and_exit_2(cli, tmp_path):
    (tmp_path / "empty.txt").write_text("")
    result = cli("train", "--dataset", "text:empty.txt", "--epochs", "1")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "initopt: error: --dataset: empty.txt: empty file; language modelling with context 64 needs at least 641 characters")
