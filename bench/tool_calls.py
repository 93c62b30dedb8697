"""Function calling of local-ai-server with a real model (run: `python -m bench tool_calls`).

The engine's four built-in tools (transfer with named targets, hangup, lookup with an order
number, knowledge_base with a query; the same specs as ai-engine's) are given to a session; text
turns go in as the engine sends them (`conversation.item.create` + `response.create`), one fresh
session per phrasing. Reported:

1. Accuracy: per tool, how often the right tool is called, and with the right arguments (transfer:
   the target; lookup: the order number's digits; knowledge_base: a query naming the subject;
   hangup: any call of hangup); for the phrasings that need no tool, how often the answer is spoken.
2. Latency: `response.create` -> first audio delta at the client for the no-tool phrasings, in a
   session with the tools and in one without; and from the server log, the model time to the
   reply's first token with tools (the decision + the first token after `say:`) and without.

Each session waits `--settle` seconds after `session.update` so that its prompt prefill (which a
real call does while the caller speaks) is done before the turn. Responses are cancelled once the
first audio (or the call) is out. `--model` runs another GGUF (e.g. a bigger instruct model).
Prints tables and writes bench/results/tool_calls.json (or tool_calls-<name>.json with --name).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

import anyio
from local_ai_server.client import RealtimeClient

from bench.calibration import calibrated
from bench.local_ai_server import RESULTS, free_port, percentile, start_server

INSTRUCTIONS = "You are the phone agent of Acme, a small electronics shop. Answer in one short sentence."
TARGETS = {"operator": "a person at the front desk", "sales": "the sales team", "support": "technical support"}
TOOLS = [
    {"type": "function", "name": "transfer",
     "description": "Transfer the caller to a person or department when they ask for a human or for something you "
                    "cannot do. Targets: " + "; ".join(f"{k}: {v}" for k, v in TARGETS.items()) + ".",
     "parameters": {"type": "object", "required": ["target"], "properties": {
         "target": {"type": "string", "enum": sorted(TARGETS), "description": "Where to transfer the caller."}}}},
    {"type": "function", "name": "hangup",
     "description": "End the call when the caller says goodbye or the conversation is over. The farewell is said "
                    "first.",
     "parameters": {"type": "object", "properties": {
         "farewell": {"type": "string", "description": "A short goodbye sentence said before hanging up."}}}},
    {"type": "function", "name": "lookup",
     "description": "Look up an order by its number (status, delivery date).",
     "parameters": {"type": "object", "required": ["order_number"], "properties": {
         "order_number": {"type": "string", "description": "The order number the caller gives."}}}},
    {"type": "function", "name": "knowledge_base",
     "description": "Search the company's documents (products, prices, opening hours, policies) before answering "
                    "a factual question. Cite the document you used.",
     "parameters": {"type": "object", "required": ["query"], "properties": {
         "query": {"type": "string", "description": "What to look for, in a few words."}}}},
]

# (phrasing, expected argument): transfer -> target, lookup -> digits, knowledge_base -> subject words.
CASES: dict[str, list[tuple[str, str]]] = {
    "transfer": [
        ("Please transfer me to sales.", "sales"), ("Can I speak to someone in sales?", "sales"),
        ("I'd like to talk to the sales team about a big order.", "sales"),
        ("Put me through to sales, please.", "sales"), ("Connect me with a sales person.", "sales"),
        ("I want to buy twenty laptops, can I talk to sales?", "sales"),
        ("Transfer me to technical support.", "support"), ("I need to speak to support.", "support"),
        ("My laptop won't turn on, can you connect me to tech support?", "support"),
        ("Can you put me through to the support team?", "support"),
        ("Get me technical support please.", "support"), ("I need help from a technician, transfer me.", "support"),
        ("Can I speak to a human?", "operator"), ("Let me talk to a real person.", "operator"),
        ("Transfer me to the operator.", "operator"), ("I want to talk to a person, not a machine.", "operator"),
        ("Operator, please.", "operator"), ("Can you connect me to the front desk?", "operator"),
        ("Is there a human I can talk to?", "operator"), ("Please get me a real person on the line.", "operator"),
    ],
    "hangup": [
        ("Goodbye.", ""), ("That's all, thank you, bye.", ""), ("Thanks, bye bye.", ""),
        ("OK, I have to go now, goodbye.", ""), ("No, that's everything. Goodbye!", ""),
        ("Thank you so much, have a nice day, bye.", ""), ("Bye.", ""), ("Alright, see you, bye.", ""),
        ("I'm done, you can hang up.", ""), ("Please end the call.", ""), ("That's it, thanks. Bye now.", ""),
        ("Nothing else, goodbye.", ""), ("Great, thanks for your help. Goodbye.", ""),
        ("OK bye.", ""), ("Cheers, bye.", ""), ("I'll call back later, bye.", ""),
        ("Thank you, that's all I needed. Bye.", ""), ("Hang up please.", ""),
        ("Goodbye and thanks.", ""), ("We're done here, goodbye.", ""),
    ],
    "lookup": [
        ("Where is my order 4512?", "4512"), ("Can you check order number 7781?", "7781"),
        ("What's the status of order 1203?", "1203"), ("I ordered something, the number is 5590.", "5590"),
        ("Has order 3321 shipped yet?", "3321"), ("When will order 8840 arrive?", "8840"),
        ("Look up my order, it's 2468.", "2468"), ("My order number is 9107, where is it?", "9107"),
        ("Could you track order 6655 for me?", "6655"), ("Check the delivery date of order 4410.", "4410"),
        ("Is order 1357 on its way?", "1357"), ("Order 2020, what's happening with it?", "2020"),
        ("I'm calling about order 7070.", "7070"), ("Can you find my order 3141?", "3141"),
        ("What happened to order number 5005?", "5005"), ("Status of order 8123 please.", "8123"),
        ("I'd like to know where order 6789 is.", "6789"), ("Did order 4321 ship?", "4321"),
        ("Please look up order 1111.", "1111"), ("Track order 9988.", "9988"),
    ],
    "knowledge_base": [
        ("What are your opening hours?", "hour open"), ("When are you open on Sunday?", "sunday open hour"),
        ("What is your return policy?", "return"), ("How much does the X200 laptop cost?", "x200 price cost laptop"),
        ("Do you sell gaming mice?", "mouse mice gaming"), ("What's the warranty on your TVs?", "warranty tv"),
        ("Do you offer free delivery?", "delivery shipping"), ("Where is your shop located?", "location address shop"),
        ("Can I pay with PayPal?", "paypal payment pay"), ("How long does shipping take?", "shipping delivery"),
        ("Do you repair phones?", "repair phone"), ("What brands of headphones do you carry?", "headphone brand"),
        ("Is there a student discount?", "student discount"), ("How do I get a refund?", "refund return"),
        ("What's the price of the Pro tablet?", "tablet price pro"), ("Do you have parking?", "parking"),
        ("Can I return an opened item?", "return opened"), ("What is the warranty period?", "warranty"),
        ("Are you open on public holidays?", "holiday open hour"), ("Do you sell printer ink?", "printer ink"),
    ],
    "none": [
        ("Hello?", ""), ("Hi, how are you?", ""), ("Can you hear me?", ""), ("Good morning.", ""),
        ("Thank you.", ""), ("Yes.", ""), ("No, not really.", ""), ("Sorry, I didn't catch that.", ""),
        ("What's your name?", ""), ("Are you a robot?", ""), ("I have a question.", ""),
        ("Just a moment please.", ""), ("Okay.", ""), ("Tell me a joke.", ""), ("That's great.", ""),
        ("Hmm, let me think.", ""), ("Can you repeat that?", ""), ("Who am I talking to?", ""),
        ("How's your day going?", ""), ("Interesting.", ""),
    ],
}


def right_arguments(tool: str, expected: str, arguments: dict) -> bool:
    if tool == "transfer":
        return arguments.get("target") == expected
    if tool == "lookup":
        return re.sub(r"\D", "", str(arguments.get("order_number", ""))) == expected
    if tool == "knowledge_base":
        query = str(arguments.get("query", "")).lower()
        return any(word in query for word in expected.split())
    return True


async def one_turn(url: str, text: str, tools: list[dict] | None, settle: float, timeout: float) -> dict:
    """A fresh session, one text turn; the response is cancelled at its first audio or call."""
    async with RealtimeClient.connect(url) as client:
        await client.update_session(rate=8000, instructions=INSTRUCTIONS)
        if tools is not None:
            mark = len(client.events)
            await client.send({"type": "session.update", "session": {"type": "realtime", "tools": tools,
                                                                     "tool_choice": "auto"}})
            await client.wait_for("session.updated", after=mark)
        await anyio.sleep(settle)  # the prompt prefill a call does while the caller speaks
        mark = len(client.events)
        await client.send({"type": "conversation.item.create", "item": {
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}})
        sent = time.monotonic()
        await client.send({"type": "response.create"})
        first = await client.wait_for_any(("response.output_audio.delta", "response.function_call_arguments.done",
                                           "response.done"), after=mark, timeout=timeout)
        result: dict = {"text": text}
        if first["type"] == "response.output_audio.delta":
            result.update(kind="say", first_audio_ms=round((first["_t"] - sent) * 1000))
            await client.send({"type": "response.cancel"})
        elif first["type"] == "response.function_call_arguments.done":
            result.update(kind="call", name=first["name"], arguments=first["arguments"],
                          call_ms=round((first["_t"] - sent) * 1000))
        else:
            result.update(kind="failed", status=first["response"]["status"])
        await client.wait_for("response.done", after=mark, timeout=timeout)
        return result


def score(results: dict[str, list[dict]]) -> dict:
    table = {}
    for tool, rows in results.items():
        if tool == "none":
            spoken = sum(r["kind"] == "say" for r in rows)
            table[tool] = {"n": len(rows), "right_tool": spoken, "right_arguments": spoken}
            continue
        right_tool = [r for r in rows if r["kind"] == "call" and r["name"] == tool]
        right_args = [r for r in right_tool if right_arguments(tool, r["expected"], json.loads(r["arguments"]))]
        table[tool] = {"n": len(rows), "right_tool": len(right_tool), "right_arguments": len(right_args)}
    for row in table.values():
        row["right_tool_pct"] = round(100 * row["right_tool"] / max(1, row["n"]))
        row["right_arguments_pct"] = round(100 * row["right_arguments"] / max(1, row["n"]))
    return table


def latency(values: list[int]) -> dict:
    values = [v for v in values if v is not None]
    return {"n": len(values), "median": statistics.median(values) if values else None,
            "p90": percentile(values, 0.9)}


def server_latency(log_path: Path) -> dict:
    """From the server's log, per session: the decision (`llm.decided`), and the time to the
    reply's first token with tools (decision + first token after `say:`) and without (first
    token): model time only, without the prompt prefill a turn waits for."""
    sessions: dict[str, list[dict]] = {}
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if row.get("session_id") and row.get("event") in ("llm.decided", "llm.generated"):
            sessions.setdefault(row["session_id"], []).append(row)
    decision, with_tools, without_tools = [], [], []
    for rows in sessions.values():
        decided = [r for r in rows if r["event"] == "llm.decided"]
        generated = [r for r in rows if r["event"] == "llm.generated" and r.get("first_token_ms") is not None]
        if decided:
            decision.append(decided[0]["ms"])
        if decided and generated and generated[0].get("prefix") == "say:":
            with_tools.append(decided[0]["ms"] + generated[0]["first_token_ms"])
        elif not decided and generated and generated[0].get("prefix") is None:
            without_tools.append(generated[0]["first_token_ms"])
    return {"decision_ms": latency(decision), "first_token_with_tools_ms": latency(with_tools),
            "first_token_without_tools_ms": latency(without_tools)}


async def run(args: argparse.Namespace, url: str) -> dict:
    results: dict[str, list[dict]] = {}
    for tool, cases in CASES.items():
        rows = []
        for text, expected in cases[: args.limit]:
            row = await one_turn(url, text, TOOLS, args.settle, args.timeout)
            row["expected"] = expected
            rows.append(row)
            print(f"  [{tool}] {text!r} -> {row.get('name', row['kind'])} {row.get('arguments', '')}", flush=True)
        results[tool] = rows
    plain = [await one_turn(url, text, None, args.settle, args.timeout) for text, _ in CASES["none"][: args.limit]]
    with_tools = [r.get("first_audio_ms") for r in results["none"]]
    return {"accuracy": score(results), "results": results, "plain": plain,
            "first_audio_ms": {"with_tools": latency(with_tools),
                               "without_tools": latency([r.get("first_audio_ms") for r in plain])}}


def print_tables(report: dict) -> None:
    print(f"\nfunction calling, model {report['model']}")
    print(f"{'tool':16} {'n':>3} {'right tool':>11} {'right args':>11}")
    for tool, row in report["accuracy"].items():
        print(f"{tool:16} {row['n']:3} {row['right_tool_pct']:10}% {row['right_arguments_pct']:10}%")
    print("\nno-tool phrasings (ms): first audio after response.create (client), model time (server log)")
    for name, row in (*report["first_audio_ms"].items(), *report["server_ms"].items()):
        print(f"{name:30} n={row['n']:3} median={row['median']} p90={row['p90']}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench tool_calls", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="GGUF to use instead of the bundled SmolLM2-135M")
    parser.add_argument("--name", help="suffix of the results file (tool_calls-NAME.json)")
    parser.add_argument("--limit", type=int, default=20, help="phrasings per tool (and without a tool)")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds between session.update and the turn")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"tool_calls-{args.name}" if args.name else "tool_calls"
    log_path = RESULTS / f"{name}.log"
    env = {"LOCAL_AI_LLM__MODEL_PATH": str(Path(args.model).resolve())} if args.model else {}
    port = free_port()
    started = time.monotonic()
    proc = start_server(port, log_path, env)
    try:
        report = anyio.run(run, args, f"ws://127.0.0.1:{port}/v1/realtime")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    report["model"] = Path(args.model).name if args.model else "SmolLM2-135M-Instruct Q4_1 (bundled)"
    report["server_ms"] = server_latency(log_path)
    report["config"] = vars(args)
    report["server_env"] = {k: v for k, v in os.environ.items() if k.startswith("LOCAL_AI_")}
    report["machine"] = {"cpu_cores": os.cpu_count(), "platform": platform.platform(),
                         "load_average": os.getloadavg(), "python": platform.python_version()}
    report["seconds"] = round(time.monotonic() - started, 1)
    print_tables(report)
    (RESULTS / f"{name}.json").write_text(json.dumps(calibrated(report), indent=2))
    print(f"\nwrote {RESULTS / (name + '.json')} ({report['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
