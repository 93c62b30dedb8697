"""Answer quality: does the LLM answer a caller's plain question with the fact its instructions hold?

Run: `python -m bench answer_quality [--model default|preset:NAME|PATH[@chat_format]|remote:URL@MODEL ...]`.

The persona and questions are bench/data/answer_quality.yaml. Each question is asked as text (what
the STT hands the LLM) in a fresh conversation, with the prompt local-ai-server builds (session
instructions + `llm.style_hint`, `speech.conversation`) and the server's LLM settings. As in the
server, the prompt prefix is prefilled before the question (the server does it while the caller
speaks), so the first-token time is what a caller waits for after the end-of-turn.

An answer counts as right when it contains every required fact, is no refusal, and is no nonsense:
empty, too long for a phone answer, markdown or a list, or a number that is in neither the
instructions nor the question (an invented price, time or distance). Prints one table row per
model (share right, first token and whole-answer latency p50/p95) and writes
bench/results/answer_quality.json with every answer.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import yaml
from local_ai_server.config import LlmSettings, load_settings
from local_ai_server.models import AsyncLanguageModel
from local_ai_server.speech.conversation import Conversation, Item, fit_prompt

from bench.calibration import calibrated, calibration_ms

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DATA = HERE / "data" / "answer_quality.yaml"
MAX_ANSWER_CHARS = 400
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


# --- grading (pure) -------------------------------------------------------------------------------

def normalise(text: str) -> str:
    text = text.lower().replace("\u2019", "'").replace("\u00a3", " pounds ")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,499 -> 1499
    return re.sub(r"\s+", " ", text).strip()


def contains(text: str, phrase: str) -> bool:
    """`phrase` in `text`, starting a word (6 is not found in 26, "no" not in "know"; "year" is in
    "years"); a number must also end there (6 is not in 60)."""
    phrase = normalise(phrase)
    left = r"(?<![\w])" if phrase[:1].isalnum() else ""
    right = r"(?!\d)" if phrase[-1:].isdigit() else ""
    return re.search(left + re.escape(phrase) + right, text) is not None


def numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(normalise(text))}


@dataclass
class Verdict:
    right: bool
    missing: list[str] = field(default_factory=list)
    refusal: str | None = None
    nonsense: str | None = None


def grade(answer: str, question: dict, refusals: list[str], facts: str) -> Verdict:
    text = normalise(answer)
    verdict = Verdict(right=False)
    for group in question.get("must", []):
        if not any(contains(text, alt) for alt in group):
            verdict.missing.append(group[0])
    kind = question.get("kind", "fact")
    if kind == "fact" and not question.get("refusal_ok"):
        verdict.refusal = next((r for r in refusals if normalise(r) in text), None)
    if not text:
        verdict.nonsense = "empty"
    elif len(answer) > MAX_ANSWER_CHARS:
        verdict.nonsense = "too long"
    elif re.search(r"\*\*|^\s*#|^\s*[-*] |^\s*\d+\. ", answer, re.M):
        verdict.nonsense = "markdown or list"
    else:
        invented = numbers(answer) - numbers(facts) - numbers(question["q"])
        bad = [s for s in question.get("must_not", []) if contains(text, s)]
        if invented:
            verdict.nonsense = "invented number " + ", ".join(sorted(invented))
        elif bad:
            verdict.nonsense = "said " + ", ".join(bad)
    verdict.right = not verdict.missing and verdict.refusal is None and verdict.nonsense is None
    return verdict


def percentile(values: list[float], q: float) -> float | None:
    values = sorted(values)
    if not values:
        return None
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return round(values[lo] + (values[hi] - values[lo]) * (k - lo), 1)


# --- running --------------------------------------------------------------------------------------

def prompts(instructions: str, question: str, llm: LlmSettings) -> tuple[list[dict], list[dict]]:
    """(prefix the server prefills while the caller speaks, the whole prompt) as local-ai-server builds them."""
    conversation = Conversation()
    upcoming = conversation.chat_messages(instructions, llm.style_hint, llm.history_turns,
                                          llm.history_item_chars, upcoming=True)
    conversation.add(Item(id="q", role="user", text=question, from_audio=True))
    messages = conversation.chat_messages(instructions, llm.style_hint, llm.history_turns, llm.history_item_chars)
    return fit_prompt(upcoming, llm.max_prompt_chars), fit_prompt(messages, llm.max_prompt_chars)


def build(spec: str, llm: LlmSettings):
    """`default` (the configured `llm.preset`), `preset:NAME`, `PATH[@chat_format]` (a GGUF file), or
    `remote:URL@MODEL` (an OpenAI-compatible endpoint; key from LOCAL_AI_LLM__API_KEY)."""
    if spec.startswith("remote:"):
        from local_ai_server.models.llm_remote import RemoteLLM

        url, _, model = spec[len("remote:"):].rpartition("@")
        settings = llm.model_copy(update={"backend": "openai_compatible", "base_url": url, "model": model})
        return RemoteLLM(settings, api_key=os.environ.get("LOCAL_AI_LLM__API_KEY"))
    from local_ai_server.models.bundled import llm_preset
    from local_ai_server.models.llm import LlamaLLM

    chat_format = None
    if spec == "default" or spec.startswith("preset:"):
        name = spec.removeprefix("preset:") if spec != "default" else llm.preset
        model_path = llm_preset(name, llm.model_cache_dir).path()
    else:
        path, _, chat_format = spec.partition("@")
        model_path = Path(path)
    return LlamaLLM(model_path, llm.model_copy(update={"instances": 1, "chat_format": chat_format or None}))


def timed_answer(model, messages: list[dict], max_tokens: int) -> tuple[str, float | None, float]:
    """(answer, seconds to the first piece, seconds to the whole answer)."""
    pieces: list[str] = []
    first: list[float] = []
    t0 = time.perf_counter()

    def got(piece: str) -> None:
        if not first:
            first.append(time.perf_counter() - t0)
        pieces.append(piece)

    if isinstance(model, AsyncLanguageModel):
        async def consume() -> None:
            async for piece in model.astream(messages, max_tokens=max_tokens):
                got(piece)

        anyio.run(consume)
    else:
        for piece in model.stream(0, messages, max_tokens=max_tokens):
            got(piece)
    return "".join(pieces).strip(), first[0] if first else None, time.perf_counter() - t0


def run_model(spec: str, data: dict, llm: LlmSettings, limit: int | None) -> dict:
    started = time.perf_counter()
    model = build(spec, llm)
    load_s = time.perf_counter() - started
    getattr(model, "warm_up", lambda: None)()
    instructions = data["persona"]["instructions"]
    answers = []
    for question in data["questions"][:limit]:
        prefix, messages = prompts(instructions, question["q"], llm)
        model.prefill(0, prefix)
        answer, first, total = timed_answer(model, messages, llm.max_tokens)
        verdict = grade(answer, question, data["refusals"], instructions)
        answers.append({"q": question["q"], "answer": answer, "right": verdict.right, "missing": verdict.missing,
                        "refusal": verdict.refusal, "nonsense": verdict.nonsense,
                        "first_token_ms": round(first * 1000, 1) if first is not None else None,
                        "total_ms": round(total * 1000, 1)})
        mark = "ok " if verdict.right else "BAD"
        print(f"  {mark} {question['q'][:50]:50} -> {answer[:110]!r}", flush=True)
    firsts = [a["first_token_ms"] for a in answers if a["first_token_ms"] is not None]
    totals = [a["total_ms"] for a in answers]
    return {
        "model": spec, "load_s": round(load_s, 2), "questions": len(answers),
        "right": sum(a["right"] for a in answers),
        "share_right": round(sum(a["right"] for a in answers) / max(1, len(answers)), 3),
        "refusals": sum(a["refusal"] is not None for a in answers),
        "nonsense": sum(a["nonsense"] is not None for a in answers),
        "first_token_ms_p50": percentile(firsts, 0.5), "first_token_ms_p95": percentile(firsts, 0.95),
        "total_ms_p50": percentile(totals, 0.5), "total_ms_p95": percentile(totals, 0.95),
        "answer_chars_mean": round(statistics.mean(len(a["answer"]) for a in answers), 1) if answers else None,
        "answers": answers,
    }


def table(rows: list[dict]) -> str:
    lines = ["| model | right | refusals | nonsense | first token p50 / p95 ms | whole answer p50 / p95 ms |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['right']}/{r['questions']} ({r['share_right']:.0%}) | {r['refusals']} | "
                     f"{r['nonsense']} | {r['first_token_ms_p50']} / {r['first_token_ms_p95']} | "
                     f"{r['total_ms_p50']} / {r['total_ms_p95']} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench answer_quality")
    parser.add_argument("--model", action="append", default=[],
                        help="default | preset:NAME | PATH[@chat_format] | remote:URL@MODEL (repeatable; default: default)")
    parser.add_argument("--config", default=None, help="local-ai-server YAML whose llm settings to use")
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--out", default=str(RESULTS / "answer_quality.json"))
    args = parser.parse_args(argv)
    data = yaml.safe_load(Path(args.data).read_text())
    llm = load_settings(args.config).llm
    rows = []
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    loadavg_before = Path("/proc/loadavg").read_text().split()[:3]
    calibration = calibration_ms()  # once, before the models load the machine
    for spec in args.model or ["default"]:
        print(f"[answer_quality] {spec}", flush=True)
        rows.append(run_model(spec, data, llm, args.limit))
        out.write_text(json.dumps(calibrated({  # after each model: a stopped run keeps what it measured
            "bench": "answer_quality", "loadavg_before": loadavg_before, "style_hint": llm.style_hint,
            "llm_settings": llm.model_dump(mode="json", exclude={"api_key"}), "models": rows,
        }, calibration), indent=2))
    print(table(rows))
    print(f"[answer_quality] wrote {out}")
    return 0
