"""Data tests never touch the user's cache: the mnist1d disk cache goes to a session tmp folder."""

import os

import pytest

from initopt.data import loader
from initopt.data.cache import CACHE_ENV


@pytest.fixture(scope="session", autouse=True)
def data_cache_dir(tmp_path_factory):
    """A fresh cache folder for the whole data test session (mnist1d is generated once, ~4 s)."""
    folder = tmp_path_factory.mktemp("initopt-cache")
    old = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(folder)
    loader.clear_cache()
    yield folder
    loader.clear_cache()
    if old is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = old


@pytest.fixture
def write(tmp_path):
    """``write(name, text)`` -> path of a new file under tmp_path holding ``text`` (str or bytes)."""

    def _write(name: str, content: str | bytes):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return _write
