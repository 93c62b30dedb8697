"""The CPU queue serves waiting sessions in turn: one session's flood does not delay another's job
(issue 13, local-ai-server item 2)."""

import anyio
import pytest
from local_ai_server.cpu import AHEAD, LATER, URGENT, FairLimiter

pytestmark = pytest.mark.anyio


async def run_jobs(limiter: FairLimiter, jobs: list[str]) -> list[str]:
    """Queue `jobs` (named by session) in that order while one outside job holds the only place;
    returns the order in which they ran."""
    order: list[str] = []
    release = anyio.Event()

    async def job(session: str, name: str) -> None:
        async with limiter.place(session):
            order.append(name)
            await anyio.sleep(0)

    async with anyio.create_task_group() as tg:
        async def blocker() -> None:
            async with limiter.place("other"):
                await release.wait()

        tg.start_soon(blocker)
        await anyio.wait_all_tasks_blocked()
        for name in jobs:
            tg.start_soon(job, name.split("-")[0], name)
            await anyio.wait_all_tasks_blocked()
        assert limiter.waiting == len(jobs)
        release.set()
    return order


async def test_a_later_session_goes_before_the_second_job_of_a_flood():
    order = await run_jobs(FairLimiter(1), ["A-1", "A-2", "A-3", "A-4", "B-1", "A-5", "B-2"])
    assert order == ["A-1", "B-1", "A-2", "B-2", "A-3", "A-4", "A-5"]


async def test_one_session_alone_is_first_come_first_served():
    order = await run_jobs(FairLimiter(1), ["A-1", "A-2", "A-3"])
    assert order == ["A-1", "A-2", "A-3"]


async def test_places_are_bounded_and_a_waiter_that_leaves_takes_no_place():
    limiter = FairLimiter(2)
    holding = 0
    peak = 0
    release = anyio.Event()

    async def job(session: str) -> None:
        nonlocal holding, peak
        async with limiter.place(session):
            holding += 1
            peak = max(peak, holding)
            await release.wait()
            holding -= 1

    async with anyio.create_task_group() as tg:
        for n in range(6):
            tg.start_soon(job, f"s{n % 3}")
        leaver = anyio.CancelScope()

        async def leaving() -> None:
            with leaver:
                await job("gone")

        tg.start_soon(leaving)
        await anyio.wait_all_tasks_blocked()
        assert (limiter.running, limiter.waiting) == (2, 5)
        leaver.cancel()  # it leaves the queue before its turn
        await anyio.wait_all_tasks_blocked()
        assert limiter.waiting == 4
        release.set()
    assert peak == 2
    assert limiter.running == 0 and limiter.waiting == 0


async def test_first_audio_work_goes_before_later_sentences_of_any_session():
    """Four callers asked at once: each first sentence is made before anyone's second one, and a
    caller who is waiting goes before an answer made ahead of its caller's end of turn."""
    limiter = FairLimiter(1)
    order: list[str] = []
    release = anyio.Event()

    async def job(name: str, priority: int) -> None:
        async with limiter.place(name.split("-")[0], priority):
            order.append(name)
            await anyio.sleep(0)

    async def blocker() -> None:
        async with limiter.place("other"):
            await release.wait()

    async with anyio.create_task_group() as tg:
        tg.start_soon(blocker)
        await anyio.wait_all_tasks_blocked()
        for name, priority in [("A-later", LATER), ("D-ahead", AHEAD), ("A-later2", LATER), ("B-first", URGENT),
                               ("C-later", LATER), ("C-first", URGENT), ("B-first2", URGENT), ("D-ahead2", AHEAD)]:
            tg.start_soon(job, name, priority)
            await anyio.wait_all_tasks_blocked()
        assert limiter.waiting == 8 and [limiter.waiting_in(p) for p in (URGENT, AHEAD, LATER)] == [3, 2, 3]
        release.set()
    assert order == ["B-first", "C-first", "B-first2", "D-ahead", "D-ahead2", "A-later", "C-later", "A-later2"]
