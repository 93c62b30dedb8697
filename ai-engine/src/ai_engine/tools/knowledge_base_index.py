"""The knowledge base's index: a folder of .txt/.md documents cut into passages (a markdown heading
titles the paragraphs under it; long paragraphs are cut at sentence ends), ranked by Okapi BM25
(k1 1.5, b 0.75), by all-MiniLM-L6-v2 sentence embeddings (embedding.py), or by both merged with
reciprocal-rank fusion (RRF, k=60). Every passage names its document, so the model can cite it.

Bounded: at most MAX_FILES files, MAX_FILE_BYTES each and MAX_TOTAL_BYTES together, MAX_PASSAGES
passages of at most MAX_PASSAGE_CHARS; the query is truncated. A file that cannot be read is
logged and skipped. Building the index is CPU work (seconds): run it in a worker thread.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from ..observability.logs import get_logger

if TYPE_CHECKING:
    from .embedding import Encoder

log = get_logger(__name__)

MAX_FILES = 500
MAX_FILE_BYTES = 1_000_000
MAX_TOTAL_BYTES = 20_000_000
MAX_PASSAGES = 20_000
MAX_PASSAGE_CHARS = 1_000
MAX_QUERY_CHARS = 500
K1, B = 1.5, 0.75
RRF_K = 60
_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

Ranking = Literal["bm25", "embedding", "hybrid"]


@dataclass(frozen=True, slots=True)
class Passage:
    document: str
    text: str
    terms: Counter


def tokens(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if len(w) > 1 or w.isdigit()]


def _bounded(body: str) -> list[str]:
    """A paragraph cut into pieces of at most MAX_PASSAGE_CHARS, at sentence ends where it can."""
    if len(body) <= MAX_PASSAGE_CHARS:
        return [body]
    pieces, current = [], ""
    for sentence in _SENTENCE_END.split(body):
        while len(sentence) > MAX_PASSAGE_CHARS:  # one very long sentence: a hard cut
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:MAX_PASSAGE_CHARS])
            sentence = sentence[MAX_PASSAGE_CHARS:]
        if current and len(current) + 1 + len(sentence) > MAX_PASSAGE_CHARS:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}" if current else sentence
    if current:
        pieces.append(current)
    return pieces


def passages_of(document: str, text: str) -> list[Passage]:
    out = []
    heading = ""
    for block in re.split(r"\n\s*\n", text):
        block = block.strip()
        if not block:
            continue
        if block.startswith("#") and "\n" not in block:
            heading = block.lstrip("# ").strip()  # a heading alone: it titles the next paragraphs
            continue
        body = f"{heading}: {block}" if heading and not block.startswith("#") else block
        out += [Passage(document, piece, Counter(tokens(piece))) for piece in _bounded(body)]
    return out


def read_folder(folder: Path) -> list[Passage]:
    passages: list[Passage] = []
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".txt", ".md") and p.is_file())
    if len(files) > MAX_FILES:
        log.warning("knowledge_base.files_skipped", folder=str(folder), count=len(files) - MAX_FILES, reason="too many files")
    total = 0
    for path in files[:MAX_FILES]:
        name = path.relative_to(folder).as_posix()
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                log.warning("knowledge_base.file_skipped", file=name, reason="too large")
                continue
            if total + size > MAX_TOTAL_BYTES:
                log.warning("knowledge_base.file_skipped", file=name, reason="the documents are too large together")
                continue
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("knowledge_base.file_skipped", file=name, reason=type(exc).__name__)
            continue
        total += size
        passages += passages_of(name, text)
        if len(passages) >= MAX_PASSAGES:
            log.warning("knowledge_base.passages_truncated", folder=str(folder), kept=MAX_PASSAGES)
            return passages[:MAX_PASSAGES]
    return passages


class KnowledgeBase:
    """Passages with their BM25 statistics and, when an encoder is given, their embeddings."""

    def __init__(self, passages: list[Passage], encoder: Encoder | None = None):
        self.passages = passages
        self.encoder = encoder
        self._avg = sum(sum(p.terms.values()) for p in passages) / len(passages) if passages else 0.0
        df: Counter = Counter()
        for p in passages:
            df.update(p.terms.keys())
        n = len(passages)
        self._idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self.vectors = encoder.encode([p.text for p in passages]) if encoder is not None else None

    @classmethod
    def from_folder(cls, folder: Path, encoder: Encoder | None = None) -> KnowledgeBase:
        passages = read_folder(folder)
        base = cls(passages, encoder)
        log.info("knowledge_base.indexed", folder=str(folder), documents=len({p.document for p in passages}),
                 passages=len(passages), embeddings=encoder is not None)
        return base

    def bm25(self, query: str) -> list[tuple[float, int]]:
        terms = tokens(query[:MAX_QUERY_CHARS])
        scored = []
        for i, p in enumerate(self.passages):
            length = sum(p.terms.values())
            score = 0.0
            for t in terms:
                f = p.terms.get(t, 0)
                if f:
                    score += self._idf[t] * f * (K1 + 1) / (f + K1 * (1 - B + B * length / self._avg))
            if score > 0:
                scored.append((score, i))
        scored.sort(key=lambda si: -si[0])
        return scored

    def similar(self, query: str, min_similarity: float) -> list[tuple[float, int]]:
        """Passages by cosine similarity to the query, those at or above min_similarity."""
        if self.encoder is None or self.vectors is None or not self.passages:
            return []
        sims = self.vectors @ self.encoder.encode([query[:MAX_QUERY_CHARS]])[0]
        order = np.argsort(-sims, kind="stable")
        return [(float(sims[i]), int(i)) for i in order if sims[i] >= min_similarity]

    def search(self, query: str, limit: int, ranking: Ranking = "bm25",
               min_similarity: float = 0.3) -> list[tuple[float, Passage]]:
        if ranking == "bm25" or self.encoder is None:
            ranked = self.bm25(query)
        elif ranking == "embedding":
            ranked = self.similar(query, min_similarity)
        else:
            ranked = fuse([self.bm25(query), self.similar(query, min_similarity)])
        return [(score, self.passages[i]) for score, i in ranked[:limit]]


def fuse(rankings: list[list[tuple[float, int]]]) -> list[tuple[float, int]]:
    """Reciprocal-rank fusion: each list gives 1/(RRF_K + rank) to its items; ties keep list order."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (_, i) in enumerate(ranking, 1):
            fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(((s, i) for i, s in fused.items()), key=lambda si: -si[0])
