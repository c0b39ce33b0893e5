"""text:PATH, character-level language modelling: windows, vocabulary, the split by position, errors."""

from __future__ import annotations

import pytest
import torch

import initopt.data
from initopt.data import DataError, OptionError, loader
from initopt.data.text import min_characters

TEXT = "the quick brown fox jumps over the lazy dog. " * 40  # 1800 characters


def decode(ids: torch.Tensor, vocab: tuple[str, ...]) -> str:
    return "".join(vocab[i] for i in ids.tolist())


def test_windows_targets_and_vocabulary(write):
    path = write("fox.txt", TEXT)
    train, test = initopt.data.load(f"text:{path}", context=16)
    info = train.info
    vocab = tuple(sorted(set(TEXT)))
    assert (info.task, info.input_kind, info.vocab_size, info.n_classes, info.output_dim) == (
        "multiclass", "tokens", len(vocab), len(vocab), len(vocab))
    assert (info.input_shape, info.target_shape, info.classes) == ((16,), (16,), vocab)
    assert (info.default_loss, info.default_metric) == ("cross_entropy", "accuracy")
    # 1800 characters: the first 1620 train (101 windows of 16 + their next characters), the last 180 test (11)
    assert (info.n_train, info.n_test) == ((1620 - 1) // 16, (180 - 1) // 16)
    for split in (train, test):
        assert split.x.dtype == split.y.dtype == torch.int64 and split.scaler is None
        assert split.x.shape == split.y.shape == (len(split), 16)
        assert torch.equal(split.x[:, 1:], split.y[:, :-1])  # the target is the next character
        assert torch.equal(split.x[1:, 0], split.y[:-1, -1])  # windows follow each other without overlap
    assert decode(train.x[0], vocab) == TEXT[:16] and decode(train.y[0], vocab) == TEXT[1:17]
    assert decode(test.x[0], vocab) == TEXT[1620:1636]  # the test part is the end of the file


def test_default_context_is_64_and_loads_are_cached(write):
    path = write("fox.txt", TEXT)
    splits = initopt.data.load(f"text:{path}")
    assert splits.info.input_shape == (64,)
    assert initopt.data.load(f"text:{path}", context=64) is splits
    loader.clear_cache()
    again = initopt.data.load(f"text:{path}")
    assert torch.equal(again.train.x, splits.train.x) and again.info == splits.info


def test_unicode_and_a_bom(write):
    text = "héllo wörld — ünïcode ✓ " * 20
    path = write("u.txt", "\ufeff" + text)
    train, _ = initopt.data.load(f"text:{path}", context=8)
    assert train.info.classes == tuple(sorted(set(text)))
    assert decode(train.x[0], train.info.classes) == text[:8]


def test_the_shortest_file_has_one_test_window(write):
    context = 8
    need = min_characters(context)
    ok = write("ok.txt", ("ab" * need)[:need])
    assert initopt.data.load(f"text:{ok}", context=context).info.n_test == 1
    short = write("short.txt", ("ab" * need)[: need - 1])
    with pytest.raises(DataError) as err:
        initopt.data.load(f"text:{short}", context=context)
    assert str(err.value) == (
        f"{short}: {need - 1} characters are too few for context 8: the last 10% (8 characters) must hold one "
        f"window of 9; need at least {need} characters, or a smaller context"
    )


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("", ": empty file; language modelling with context 64 needs at least 641 characters"),
        ("x" * 1000, ": every character is 'x'; need at least 2 distinct characters"),
        (b"caf\xe9 " * 300, ": not UTF-8 text (invalid continuation byte at byte 3); save it as UTF-8"),
        ("short text", ": 10 characters are too few for context 64"),
    ],
    ids=["empty", "one-character", "not-utf8", "too-short"],
)
def test_bad_text_files(write, content, fragment):
    path = write("bad.txt", content)
    with pytest.raises(DataError) as err:
        initopt.data.load(f"text:{path}")
    message = str(err.value)
    assert message.startswith(str(path)) and fragment in message and "\n" not in message


def test_missing_text_file(tmp_path):
    with pytest.raises(DataError, match=r"missing.txt: no such file"):
        initopt.data.load(f"text:{tmp_path / 'missing.txt'}")


def test_context_option(write):
    path = write("fox.txt", TEXT)
    with pytest.raises(OptionError, match="option 'context': must be >= 1, got 0"):
        initopt.data.load(f"text:{path}", context=0)
    with pytest.raises(OptionError, match="has no option 'contxt'; did you mean 'context'"):
        initopt.data.load(f"text:{path}", contxt=8)


def test_a_text_file_named_without_the_prefix_gets_a_hint():
    with pytest.raises(ValueError, match="write 'text:notes.txt'"):
        initopt.data.load("notes.txt")
