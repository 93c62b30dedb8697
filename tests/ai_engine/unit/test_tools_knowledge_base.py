"""The knowledge base: documents indexed at start, searched per call, answers name their document."""

import pytest

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
