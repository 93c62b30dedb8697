"""The knowledge_base tool's ranking: BM25, all-MiniLM-L6-v2 embeddings (numpy encoder) and the
hybrid of both (reciprocal-rank fusion), on a small shop FAQ written for this bench: 6 documents,
30 caller questions, each with the one passage that answers it. Some questions share words with
their passage, many are paraphrases, as callers speak.

Reported per ranking: passage top-1 / top-3 accuracy, document top-1 accuracy, and the query time
(ms, p50/p95, including embedding the question); and once the index time (model load, passages
embedded). Writes bench/results/knowledge_base.json.

  python -m bench knowledge_base [--repeat N]
  python -m bench knowledge_base --answers [--search merged|model] [--limit N]

`--answers`: the same questions end to end with the real local LLM of local-ai-server (the model
calls the tool, the engine searches, the model answers; bench/knowledge_base_answers.py): writes
bench/results/knowledge_base_answers[-model].json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from ai_engine.tools.embedding import Encoder, one_blas_thread
from ai_engine.tools.knowledge_base_index import KnowledgeBase
from bench.calibration import calibrated

RESULTS = Path(__file__).resolve().parent / "results"
RANKINGS = ("bm25", "embedding", "hybrid")

DOCUMENTS = {
    "hours.md": """# Opening hours
Our shop is open Monday to Friday from 9:00 to 18:00 and on Saturday from 10:00 to 14:00.

# Sundays and public holidays
We are closed on Sundays and on public holidays.

# Phone support
The support line answers calls on weekdays between 8:00 and 20:00.
""",
    "returns.md": """# Return policy
Unused products can be returned within 30 days of delivery for a full refund.

# Refund timing
Refunds are paid back to the original payment method within five working days after we receive the parcel.

# Return label
A prepaid return label is included in every parcel; print a new one from your account if it is lost.

# Opened software
Software and games whose seal is broken cannot be returned.
""",
    "shipping.md": """# Delivery cost
Standard delivery costs 4.90 euros and is free for orders above 50 euros.

# Delivery time
Standard parcels arrive within two to three working days; express delivery arrives the next working day if ordered before 14:00.

# Countries
We ship to Germany, Austria, Switzerland, France and the Benelux countries.

# Tracking
A tracking link is sent by email as soon as the parcel leaves our warehouse.
""",
    "warranty.md": """# Warranty period
All devices come with a two-year manufacturer warranty from the date of purchase.

# Repairs
Defective devices are repaired or replaced free of charge within the warranty; send them with the repair form.

# Accidental damage
Drops, water damage and cracked screens are not covered by the warranty; our insurance plan covers them.

# Insurance plan
The insurance plan costs 5 euros a month and covers accidental damage and theft.
""",
    "payment.md": """# Payment methods
We accept credit cards, PayPal, bank transfer and invoice for returning customers.

# Instalments
Orders above 200 euros can be paid in 6 or 12 monthly instalments without interest.

# Invoices
Your invoice is attached to the shipping confirmation email and can be downloaded from your account.

# Failed payment
If a card payment is declined, the order is kept for 48 hours so you can pay another way.
""",
    "account.md": """# Password reset
To reset your password, click 'forgot password' on the login page and follow the link we email you.

# Changing the address
You can change your delivery address in your account until the order is shipped.

# Deleting the account
To close your account and delete your data, write to privacy@example.com.

# Newsletter
Unsubscribe from the newsletter with the link at the bottom of every newsletter email.
""",
}

# (question, a phrase only the answering passage contains)
QUESTIONS = [
    ("What time do you open on Saturday?", "Monday to Friday from 9:00"),
    ("Are you open on Sunday?", "closed on Sundays"),
    ("Until when can I reach someone by phone?", "support line answers"),
    ("Can I still bring something back after two weeks?", "returned within 30 days"),
    ("When do I get my money back?", "within five working days after"),
    ("I lost the return sticker, what do I do?", "prepaid return label"),
    ("I opened the game, can I return it?", "seal is broken"),
    ("How much is shipping?", "costs 4.90 euros"),
    ("Is delivery free?", "costs 4.90 euros"),
    ("How long until my package arrives?", "two to three working days"),
    ("If I order now, can I have it tomorrow?", "express delivery"),
    ("Do you deliver to Italy?", "We ship to Germany"),
    ("Where is my parcel right now?", "tracking link"),
    ("How long is the guarantee on a laptop?", "two-year manufacturer warranty"),
    ("My phone stopped working, will you fix it?", "repaired or replaced"),
    ("I dropped my phone and the screen broke, is that covered?", "cracked screens"),
    ("What does the insurance cost per month?", "5 euros a month"),
    ("Is theft covered?", "covers accidental damage and theft"),
    ("Can I pay with PayPal?", "We accept credit cards"),
    ("Can I pay in monthly rates?", "monthly instalments"),
    ("Where do I find my bill?", "invoice is attached"),
    ("My card was declined, what now?", "card payment is declined"),
    ("I forgot my password", "reset your password"),
    ("I cannot log in anymore", "reset your password"),
    ("I moved, how do I update where you send my order?", "change your delivery address"),
    ("Please remove all my personal data", "delete your data"),
    ("How do I stop getting your marketing emails?", "Unsubscribe from the newsletter"),
    ("Do you take bank transfers?", "We accept credit cards"),
    ("What happens if my device breaks after a year?", "repaired or replaced"),
    ("Are you closed on Christmas?", "public holidays"),
]


def _write(folder: Path) -> None:
    for name, text in DOCUMENTS.items():
        (folder / name).write_text(text)


def evaluate(base: KnowledgeBase, ranking: str, repeat: int) -> dict:
    top1 = top3 = doc1 = 0
    times = []
    for question, key in QUESTIONS:
        for _ in range(repeat):
            t = time.perf_counter()
            hits = base.search(question, 3, ranking)
            times.append((time.perf_counter() - t) * 1000)
        texts = [p.text for _, p in hits]
        answer_doc = next(p.document for p in base.passages if key in p.text)
        top1 += bool(texts) and key in texts[0]
        top3 += any(key in t for t in texts)
        doc1 += bool(hits) and hits[0][1].document == answer_doc
    n = len(QUESTIONS)
    times.sort()
    return {
        "passage_top1": top1 / n, "passage_top3": top3 / n, "document_top1": doc1 / n,
        "query_ms_p50": round(statistics.median(times), 3),
        "query_ms_p95": round(times[int(0.95 * (len(times) - 1))], 3),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench knowledge_base")
    parser.add_argument("--repeat", type=int, default=5, help="Times each question is timed.")
    parser.add_argument("--blas-threads", choices=("one", "default"), default="one",
                        help="one: as the engine runs it (embedding.one_blas_thread); default: OpenBLAS's own choice.")
    parser.add_argument("--answers", action="store_true", help="End to end with local-ai-server's real LLM.")
    parser.add_argument("--search", choices=("merged", "model"), default="merged",
                        help="--answers: search with the caller's words too (merged) or the model's query alone.")
    parser.add_argument("--limit", type=int, default=len(QUESTIONS), help="--answers: the first N questions.")
    args = parser.parse_args(argv)
    if args.answers:
        return _answers(args)
    blas_one = args.blas_threads == "one"
    if blas_one:
        one_blas_thread()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(folder)
        t = time.perf_counter()
        encoder = Encoder()
        load_s = time.perf_counter() - t
        t = time.perf_counter()
        base = KnowledgeBase.from_folder(folder, encoder)
        index_s = time.perf_counter() - t
        t = time.perf_counter()
        KnowledgeBase.from_folder(folder)
        bm25_index_s = time.perf_counter() - t
    results = {
        "blas_one_thread": blas_one, "documents": len(DOCUMENTS), "passages": len(base.passages), "questions": len(QUESTIONS),
        "model_load_s": round(load_s, 3), "index_s_with_embeddings": round(index_s, 3),
        "index_s_bm25_only": round(bm25_index_s, 4),
        "rankings": {r: evaluate(base, r, args.repeat) for r in RANKINGS},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"knowledge_base{'' if args.blas_threads == 'one' else '_blas_default'}.json").write_text(json.dumps(calibrated(results), indent=2))
    print(f"{results['documents']} documents, {results['passages']} passages, {results['questions']} questions; "
          f"model load {load_s:.2f} s, index (embed all passages) {index_s:.2f} s, BM25-only index {bm25_index_s * 1000:.1f} ms")
    print(f"{'ranking':<10} {'passage top-1':>13} {'passage top-3':>13} {'doc top-1':>9} {'query p50 ms':>12} {'p95 ms':>7}")
    for name, r in results["rankings"].items():
        print(f"{name:<10} {r['passage_top1']:>13.0%} {r['passage_top3']:>13.0%} {r['document_top1']:>9.0%} "
              f"{r['query_ms_p50']:>12.2f} {r['query_ms_p95']:>7.2f}")
    return 0


def _answers(args: argparse.Namespace) -> int:
    from bench.knowledge_base_answers import answers

    RESULTS.mkdir(exist_ok=True)
    name = "knowledge_base_answers" + ("-model" if args.search == "model" else "")
    report = answers(DOCUMENTS, QUESTIONS[: args.limit], args.search, RESULTS / f"{name}.log")
    (RESULTS / f"{name}.json").write_text(json.dumps(calibrated(report), indent=2))
    print(f"search {report['search']}, {report['questions']} questions: tool called {report['tool_called']:.0%}, "
          f"answering passage found {report['passage_found']:.0%}, answer has the fact {report['answer_has_fact']:.0%}")
    return 0

