"""The knowledge base: documents indexed at start, searched per call, answers name their document."""

import pytest

from ai_engine.tools.base import ToolFailed
from ai_engine.tools.knowledge_base import KnowledgeBase, KnowledgeBaseTool
from ai_engine.tools.settings import KnowledgeBaseSettings

pytestmark = pytest.mark.anyio


@pytest.fixture
def docs(tmp_path):
    (tmp_path / "hours.md").write_text("# Opening hours\n\nMonday to Friday 9 to 17.\n\n# Holidays\n\nClosed on public holidays.\n")
    (tmp_path / "faq").mkdir()
    (tmp_path / "faq" / "returns.txt").write_text("Returns are accepted within 30 days.\n\nRefunds take five working days.\n")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    return tmp_path


def test_documents_are_cut_into_passages_titled_by_their_heading(docs):
    base = KnowledgeBase.from_folder(docs)
    assert sorted({p.document for p in base.passages}) == ["faq/returns.txt", "hours.md"]
    assert any(p.text == "Holidays: Closed on public holidays." for p in base.passages)


async def test_the_best_passage_comes_first_and_names_its_document(docs):
    tool = KnowledgeBaseTool(KnowledgeBaseSettings(folder=docs, max_results=2))
    out = await tool.run({"query": "how long does a refund take"}, None)
    first = out.output["results"][0]
    assert first == {"document": "faq/returns.txt", "text": "Refunds take five working days."}
    out = await tool.run({"query": "are you open on public holidays"}, None)
    assert out.output["results"][0]["document"] == "hours.md"


async def test_nothing_found_tells_the_model_to_say_so(docs):
    out = await KnowledgeBaseTool(KnowledgeBaseSettings(folder=docs)).run({"query": "zebra"}, None)
    assert out.output["results"] == [] and "do not know" in out.output["note"]


def test_a_missing_folder_is_a_configuration_error(tmp_path):
    with pytest.raises(ValueError, match="is not a folder"):
        KnowledgeBaseTool(KnowledgeBaseSettings(folder=tmp_path / "missing"))


# --- the embedding model (all-MiniLM-L6-v2 from its PyPI package, run in numpy) ---

import numpy as np  # noqa: E402

from ai_engine.tools import knowledge_base_index as index  # noqa: E402
from ai_engine.tools.embedding import shared_encoder  # noqa: E402


@pytest.fixture(scope="module")
def encoder():
    return shared_encoder()


def test_the_encoder_is_deterministic_and_gives_unit_vectors(encoder):
    texts = ["When do you open?", "Opening hours: 9 to 5", "Returns within 30 days"]
    first, again = encoder.encode(texts), encoder.encode(texts)
    assert first.shape == (3, 384) and first.dtype == np.float32
    assert np.array_equal(first, again)
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)


def test_a_sentence_embeds_the_same_alone_and_in_a_padded_batch(encoder):
    # padding is masked out of attention and pooling: a short text among long ones is unchanged
    short = "Opening hours: 9 to 5"
    batch = encoder.encode([short, "A much longer sentence about the refund policy of the shop, in many words."])
    assert np.allclose(encoder.encode([short])[0], batch[0], atol=1e-5)


def test_close_meanings_score_higher_than_unrelated_ones(encoder):
    pairs = [
        ("When do you open?", "Opening hours: 9 to 5", "Returns within 30 days"),
        ("Can I send it back?", "Returns within 30 days", "Opening hours: 9 to 5"),
        ("How much does delivery cost?", "Shipping is free above 50 euros", "Our office is in Berlin"),
        ("I forgot my password", "Reset your login credentials from the account page", "We sell laptops"),
    ]
    for question, close, far in pairs:
        q, c, f = encoder.encode([question, close, far])
        assert q @ c > q @ f + 0.1, question


def test_hi_and_hello_are_as_close_as_a_published_check_of_the_model_says(encoder):
    # langchain4j's all-MiniLM-L6-v2 embedding test (AllMiniLmL6V2EmbeddingModelTest.should_embed,
    # ONNX export of the same model) asserts cosine("hi", "hello") > 0.8; this encoder gives 0.807
    first, second = encoder.encode(["hi", "hello"])
    assert first @ second > 0.8


async def test_a_paraphrase_without_shared_words_finds_its_document(docs):
    # BM25 alone finds nothing ("open" is not "opening"); the embeddings do
    bm25 = await KnowledgeBaseTool(KnowledgeBaseSettings(folder=docs, ranking="bm25")).run({"query": "when do you open"}, None)
    assert bm25.output["results"] == []
    for ranking in ("embedding", "hybrid"):
        tool = KnowledgeBaseTool(KnowledgeBaseSettings(folder=docs, ranking=ranking))
        out = await tool.run({"query": "when do you open"}, None)
        assert out.output["results"][0]["document"] == "hours.md", ranking


async def test_without_the_model_the_tool_still_answers_with_bm25(docs, monkeypatch):
    import ai_engine.tools.embedding as embedding

    def broken():
        raise FileNotFoundError("the all_minilm_l6_v2 package is not installed")

    monkeypatch.setattr(embedding, "shared_encoder", broken)
    tool = KnowledgeBaseTool(KnowledgeBaseSettings(folder=docs))
    out = await tool.run({"query": "how long does a refund take"}, None)
    assert out.output["results"][0]["document"] == "faq/returns.txt"
    assert (await tool.index()).encoder is None


def test_an_unreadable_file_is_skipped_and_the_others_indexed(docs):
    (docs / "broken.txt").write_bytes(b"\xff\xfe not utf-8 \xff")
    (docs / "huge.md").write_text("x" * (index.MAX_FILE_BYTES + 1))
    base = KnowledgeBase.from_folder(docs)
    assert sorted({p.document for p in base.passages}) == ["faq/returns.txt", "hours.md"]


def test_a_long_paragraph_is_cut_into_bounded_passages_at_sentence_ends(tmp_path):
    sentence = "The warranty covers parts and labour for two full years after purchase. "
    (tmp_path / "warranty.md").write_text("# Warranty\n\n" + sentence * 40)
    passages = KnowledgeBase.from_folder(tmp_path).passages
    assert len(passages) > 1
    assert all(len(p.text) <= index.MAX_PASSAGE_CHARS and p.text.endswith("purchase.") for p in passages)
    assert "".join(p.text for p in passages).count("warranty covers") == 40


def test_the_number_of_passages_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(index, "MAX_PASSAGES", 5)
    (tmp_path / "many.txt").write_text("\n\n".join(f"Paragraph {i}." for i in range(20)))
    assert len(KnowledgeBase.from_folder(tmp_path).passages) == 5


# --- the caller's words searched besides the model's query (small models write poor queries) ---


class Heard:
    """What a call gives a tool: the caller's last transcribed words."""

    def __init__(self, words: str):
        self.caller_words = words


async def test_a_poor_model_query_still_finds_what_the_caller_asked(docs):
    # the bundled SmolLM2-135M searched for its own greeting when the caller asked for the hours
    tool = KnowledgeBaseTool(KnowledgeBaseSettings(folder=docs))
    alone = await tool.run({"query": "How can I help you?"}, None)
    assert alone.output["results"] == []
    out = await tool.run({"query": "How can I help you?"}, Heard("When are you open?"))
    assert out.output["results"][0] == {"document": "hours.md", "text": "Opening hours: Monday to Friday 9 to 17."}


async def test_both_searches_are_merged_best_first_without_repeats(docs):
    tool = KnowledgeBaseTool(KnowledgeBaseSettings(folder=docs, max_results=3))
    out = await tool.run({"query": "how long does a refund take"}, Heard("and are you open on public holidays?"))
    texts = [r["text"] for r in out.output["results"]]
    assert "Refunds take five working days." in texts and "Holidays: Closed on public holidays." in texts
    assert len(texts) == len(set(texts)) <= 3


async def test_the_callers_words_alone_serve_when_the_model_gives_no_query(docs):
    tool = KnowledgeBaseTool(KnowledgeBaseSettings(folder=docs))
    out = await tool.run({}, Heard("how long does a refund take"))
    assert out.output["results"][0]["document"] == "faq/returns.txt"


async def test_the_caller_words_search_can_be_switched_off(docs):
    tool = KnowledgeBaseTool(KnowledgeBaseSettings(folder=docs, search_caller_words=False))
    out = await tool.run({"query": "How can I help you?"}, Heard("When are you open?"))
    assert out.output["results"] == []
    with pytest.raises(ToolFailed):
        await tool.run({}, Heard("When are you open?"))


# --- answer: quote (the engine reads the best passage out; small models rarely read a fact out) ---


class Caller(Heard):
    def __init__(self, words: str):
        super().__init__(words)
        self.said: list[str] = []

    async def say(self, text: str) -> None:
        self.said.append(text)


async def test_quote_mode_reads_the_best_passage_to_the_caller_and_the_model_stays_quiet(docs):
    tool = KnowledgeBaseTool(KnowledgeBaseSettings(folder=docs, answer="quote"))
    caller = Caller("When are you open?")
    out = await tool.run({"query": "How can I help you?"}, caller)
    assert caller.said == ["Opening hours: Monday to Friday 9 to 17."]
    assert out.output == {"said_to_caller": caller.said[0], "document": "hours.md"} and out.respond is False
    assert tool.timeout_s >= 30  # it returns once the caller heard the quote


async def test_quote_mode_with_nothing_found_lets_the_model_say_it_does_not_know(docs):
    tool = KnowledgeBaseTool(KnowledgeBaseSettings(folder=docs, answer="quote"))
    caller = Caller("do you sell zebras")
    out = await tool.run({"query": "zebra"}, caller)
    assert caller.said == [] and out.respond and "do not know" in out.output["note"]


def test_a_quote_is_whole_sentences_of_prose_within_the_bound():
    from ai_engine.tools.knowledge_base import quote

    text = "# Delivery\n\n- We deliver **free** within 10 km. Further away it costs 5 euros. Orders before noon ship today."
    assert quote(text, 240) == "We deliver free within 10 km. Further away it costs 5 euros. Orders before noon ship today."
    assert quote(text, 60) == "We deliver free within 10 km. Further away it costs 5 euros."
    assert quote("One very long sentence without any end at all that goes on", 20) == "One very long"
