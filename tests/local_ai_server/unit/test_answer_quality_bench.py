"""bench/answer_quality: its grading counts what a caller would count as an answer, its question set
is what the issue asks for, and it scores a remote endpoint end to end."""

from __future__ import annotations

import json

import anyio
import pytest
import yaml
from bench import answer_quality as aq
from fakes.chat_completions import FakeChatCompletions

DATA = yaml.safe_load(aq.DATA.read_text())
FACTS = DATA["persona"]["instructions"]
REFUSALS = DATA["refusals"]


def question(text: str) -> dict:
    return next(q for q in DATA["questions"] if q["q"] == text)


def test_the_set_has_at_least_30_questions_each_with_its_fact():
    questions = DATA["questions"]
    assert len(questions) >= 30
    assert all(q["must"] and all(group for group in q["must"]) for q in questions)
    assert any(q.get("kind") == "refuse" for q in questions)
    assert any("order" in q["q"].lower() for q in questions)


def test_a_right_answer_counts():
    verdict = aq.grade("We're open 10 am to 4 pm on Saturdays.", question("What time do you open on Saturday?"),
                       REFUSALS, FACTS)
    assert verdict.right


def test_a_refusal_an_invention_or_a_list_does_not_count():
    hours = question("What are your opening hours?")
    assert aq.grade("I'm sorry, but I can't check that. We open 9 to 6.", hours, REFUSALS, FACTS).refusal
    assert aq.grade("We open 9 am to 6 pm, and 7 am on holidays.", hours, REFUSALS, FACTS).nonsense == \
        "invented number 7"
    assert aq.grade("- 9 am\n- 6 pm", hours, REFUSALS, FACTS).nonsense == "markdown or list"
    assert not aq.grade("We close at 26 o'clock.", question("When do you close on weekdays?"), REFUSALS, FACTS).right


def test_a_question_outside_the_facts_wants_a_polite_decline():
    skateboards = question("Do you sell skateboards?")
    assert aq.grade("I don't know, but a colleague can call you back.", skateboards, REFUSALS, FACTS).right
    assert not aq.grade("Yes, skateboards are 30 pounds.", skateboards, REFUSALS, FACTS).right


def test_the_bench_scores_a_remote_endpoint(tmp_path):
    out = tmp_path / "aq.json"

    async def run() -> None:
        fake = FakeChatCompletions(pieces=["We open at 10 am ", "on Saturday."])
        async with fake.running():
            await anyio.to_thread.run_sync(aq.main, ["--model", f"remote:{fake.base_url}@{fake.model}",
                                                     "--limit", "2", "--out", str(out)])
        assert fake.errors == []
        first_question = fake.requests[1]  # [0] is the warm-up
        assert first_question["messages"][0]["content"].startswith("You are Sam, the phone agent of Rosa's Bikes")

    anyio.run(run)
    row = json.loads(out.read_text())["models"][0]
    assert (row["questions"], row["right"]) == (2, 1)  # right for Saturday, not for Sunday
    assert row["answers"][0]["first_token_ms"] is not None


@pytest.mark.parametrize("text,phrase,found", [("we open at 6 pm", "6", True), ("it is 26 miles", "6", False),
                                               ("two years", "year", True), ("i know", "no", False)])
def test_facts_match_as_words(text, phrase, found):
    assert aq.contains(text, phrase) is found
