"""The built-in `knowledge_base` tool: a persona's folder of .txt/.md documents, cut into
passages (paragraphs, markdown sections) and indexed once at start; searched with Okapi BM25
(k1 1.5, b 0.75). Every passage given back names its document, so the model can cite it.

No embedding model: no package on PyPI that we found ships its weights inside the wheel (the
static-embedding packages download them from a model hub at run time, which a phone system
must not do), so the ranking is lexical. Bounded: at most MAX_FILES files of MAX_FILE_BYTES
each are read; the query and passages are truncated.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..observability.logs import get_logger
from .base import CallActions, ToolFailed, ToolOutcome, ToolSpec
from .settings import KnowledgeBaseSettings

log = get_logger(__name__)

MAX_FILES = 500
MAX_FILE_BYTES = 1_000_000
MAX_QUERY_CHARS = 500
K1, B = 1.5, 0.75
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Passage:
    document: str
    text: str
    terms: Counter


def tokens(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if len(w) > 1 or w.isdigit()]


def _passages(document: str, text: str) -> list[Passage]:
    out = []
    heading = ""
    for block in re.split(r"\n\s*\n", text):
        block = block.strip()
        if not block:
            continue
        if block.startswith("#") and "\n" not in block:
            heading = block.lstrip("# ").strip()  # a heading alone: it titles the next paragraph
            continue
        body = f"{heading}: {block}" if heading and not block.startswith("#") else block
        out.append(Passage(document, body, Counter(tokens(body))))
    return out


class KnowledgeBase:
    def __init__(self, passages: list[Passage]):
        self.passages = passages
        self._avg = sum(sum(p.terms.values()) for p in passages) / len(passages) if passages else 0.0
        df: Counter = Counter()
        for p in passages:
            df.update(p.terms.keys())
        n = len(passages)
        self._idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}

    @classmethod
    def from_folder(cls, folder: Path) -> KnowledgeBase:
        passages: list[Passage] = []
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".txt", ".md") and p.is_file())
        for path in files[:MAX_FILES]:
            if path.stat().st_size > MAX_FILE_BYTES:
                log.warning("knowledge_base.file_skipped", file=str(path), reason="too large")
                continue
            passages += _passages(path.relative_to(folder).as_posix(), path.read_text("utf-8", errors="replace"))
        log.info("knowledge_base.indexed", folder=str(folder), documents=len(files), passages=len(passages))
        return cls(passages)

    def search(self, query: str, limit: int) -> list[tuple[float, Passage]]:
        terms = tokens(query[:MAX_QUERY_CHARS])
        scored = []
        for p in self.passages:
            length = sum(p.terms.values())
            score = 0.0
            for t in terms:
                f = p.terms.get(t, 0)
                if f:
                    score += self._idf[t] * f * (K1 + 1) / (f + K1 * (1 - B + B * length / self._avg))
            if score > 0:
                scored.append((score, p))
        scored.sort(key=lambda sp: -sp[0])
        return scored[:limit]


class KnowledgeBaseTool:
    def __init__(self, settings: KnowledgeBaseSettings, base: KnowledgeBase | None = None):
        if base is None:
            if settings.folder is None or not settings.folder.is_dir():
                raise ValueError(f"knowledge_base.folder {settings.folder} is not a folder")
            base = KnowledgeBase.from_folder(settings.folder)
        self.base = base
        self.settings = settings
        self.spec = ToolSpec(
            "knowledge_base",
            "Search the company's documents (products, prices, opening hours, policies) before answering "
            "a factual question. Cite the document you used.",
            {
                "type": "object",
                "properties": {"query": {"type": "string", "description": "What to look for, in a few words."}},
                "required": ["query"],
            },
        )

    async def run(self, arguments: dict, ctx: CallActions) -> ToolOutcome:
        query = arguments.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ToolFailed("give a query")
        hits = self.base.search(query, self.settings.max_results)
        if not hits:
            return ToolOutcome({"results": [], "note": "nothing found in the documents; say you do not know"})
        limit = self.settings.max_chars
        return ToolOutcome({"results": [{"document": p.document, "text": p.text[:limit]} for _, p in hits]})
