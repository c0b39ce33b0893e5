"""The disk cache for generated arrays: hit, miss, corrupt files, other parameters, unwritable folder."""

from __future__ import annotations

import numpy as np
import pytest

from initopt.data import cache

KEYS = ("a", "b")


class Builder:
    """Counts its calls; returns arrays that depend on a version number."""

    def __init__(self, version: int = 1):
        self.calls, self.version = 0, version

    def __call__(self) -> dict[str, np.ndarray]:
        self.calls += 1
        return {"a": np.arange(5) * self.version, "b": np.ones((2, 3)), "extra": np.zeros(1)}


@pytest.fixture
def cache_folder(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_ENV, str(folder))
    return folder


def test_builds_once_then_reads_from_disk(cache_folder):
    build = Builder()
    first = cache.load_or_build("toy", {"v": 1}, KEYS, build)
    second = cache.load_or_build("toy", {"v": 1}, KEYS, build)
    assert build.calls == 1 and set(first) == set(KEYS)
    for key in KEYS:
        np.testing.assert_array_equal(first[key], second[key])
    files = sorted(p.name for p in cache_folder.iterdir())
    assert len(files) == 1 and files[0].startswith("toy-") and files[0].endswith(".npz")  # no temp files left


def test_other_parameters_use_another_file(cache_folder):
    build = Builder()
    cache.load_or_build("toy", {"v": 1}, KEYS, build)
    cache.load_or_build("toy", {"v": 2}, KEYS, build)
    assert build.calls == 2 and len(list(cache_folder.iterdir())) == 2
    assert cache.cache_path("toy", {"v": 1, "w": 2}) == cache.cache_path("toy", {"w": 2, "v": 1})


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(b"garbage"),
        lambda p: p.write_bytes(p.read_bytes()[:50]),  # truncated
        lambda p: p.write_bytes(b""),
        lambda p: np.savez(p, a=np.zeros(1)),  # a valid npz, but not ours
    ],
    ids=["garbage", "truncated", "empty", "foreign"],
)
def test_a_damaged_file_is_rebuilt(cache_folder, damage):
    cache.load_or_build("toy", {"v": 1}, KEYS, Builder())
    path = cache.cache_path("toy", {"v": 1})
    damage(path)
    build = Builder(version=3)
    arrays = cache.load_or_build("toy", {"v": 1}, KEYS, build)
    assert build.calls == 1
    np.testing.assert_array_equal(arrays["a"], np.arange(5) * 3)
    again = Builder()
    cache.load_or_build("toy", {"v": 1}, KEYS, again)  # the rebuilt file is good
    assert again.calls == 0


def test_unwritable_folder_warns_and_still_returns(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(cache.CACHE_ENV, str(blocker / "cache"))
    with pytest.warns(RuntimeWarning, match="cannot write the data cache"):
        arrays = cache.load_or_build("toy", {"v": 1}, KEYS, Builder())
    np.testing.assert_array_equal(arrays["a"], np.arange(5))


def test_default_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(cache.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "initopt"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / ".cache" / "initopt"
