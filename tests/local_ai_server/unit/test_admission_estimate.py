"""Admission control's estimate (issue 15, item 2): what it predicts from the work on its way to
first audio, and when the filler and the session refusal are due. Pure arithmetic, no clock."""

from __future__ import annotations

import anyio
import numpy as np
import pytest
from local_ai_fakes import make_runtime
from local_ai_server.admission import WORK, Admission
from local_ai_server.config import AdmissionSettings
from local_ai_server.cpu import AHEAD, LATER, URGENT
from realtime_protocol import AudioFormat


def admission(cpu_jobs: int = 2, **settings) -> Admission:
    a = Admission(AdmissionSettings(**{"first_audio_cost_ms": 400, **settings}), cpu_jobs)
    a.keep_filler(np.full(16000, 1000, dtype=np.int16), 16000)  # one second of "One moment, please."
    return a


def test_alone_a_turn_waits_for_its_own_work_only():
    a = admission()
    own = a.begin()
    assert a.estimated_wait_s(own) == 0.4
    own.cpu_s = 0.1  # part of it done
    assert round(a.estimated_wait_s(own), 3) == 0.3
    assert a.filler_due(0.6, own) is None  # 0.9 s predicted, under the 1.5 s bound


def test_others_on_their_way_share_the_cpu_places_with_it():
    a = admission(cpu_jobs=2)
    others = [a.begin() for _ in range(5)]
    own = a.begin()
    assert round(a.estimated_wait_s(own), 3) == 1.2  # six answers' first audio on two places
    assert round(a.filler_due(0.6, own), 3) == 1.8
    for w in others:
        w.cpu_s = 0.4
        a.reached(w)  # their first sentences are out: later work waits behind ours (cpu.py)
    assert a.estimated_wait_s(own) == 0.4
    assert a.filler_due(0.6, own) is None


def test_an_answer_whose_caller_waits_does_not_wait_for_answers_made_ahead():
    a = admission(cpu_jobs=2)
    gate = anyio.Event()
    ahead = [a.begin(gate) for _ in range(3)]
    own = a.begin()
    assert a.estimated_wait_s(own) == 0.4  # alone in its class
    assert round(a.estimated_wait_s(ahead[0]), 3) == 0.8  # an ahead one waits for everyone
    gate.set()  # their turns ended: their callers wait too
    assert round(a.estimated_wait_s(own), 3) == 0.8


def test_an_answer_that_reached_first_audio_waits_for_nothing():
    a = admission()
    own = a.begin()
    a.reached(own)
    assert a.estimated_wait_s(own) == 0.0


def test_the_cost_is_learned_from_the_answers_served():
    a = admission()
    for _ in range(30):
        w = a.begin()
        w.cpu_s = 0.2
        a.reached(w)
    assert abs(a.cost_s - 0.2) < 0.001


def test_ended_answers_are_not_waited_for_and_cancelled_ones_teach_nothing():
    a = admission()
    w = a.begin()
    a.end(w)  # cancelled before its first audio (the caller went on speaking)
    assert a.on_the_way == 0 and a.cost_s == 0.4


def test_no_filler_when_off_or_when_none_was_synthesised():
    off = admission(filler_after_ms=0)
    others = [off.begin() for _ in range(20)]
    assert others and off.filler_due(5.0, None) is None
    unsynthesised = Admission(AdmissionSettings(), 2)
    assert unsynthesised.filler_due(5.0, None) is None


def test_new_sessions_are_refused_past_the_harder_bound_only():
    a = admission(cpu_jobs=2, refuse_sessions_after_ms=2000)
    works = [a.begin() for _ in range(9)]
    assert not a.refuses_sessions()  # ten answers' work on two places: 2.0 s, not past it
    works.append(a.begin())
    assert a.refuses_sessions()
    for w in works:
        a.end(w)
    assert not a.refuses_sessions()
    assert not admission(refuse_sessions_after_ms=0, first_audio_cost_ms=60000).refuses_sessions()


def test_the_filler_is_converted_once_per_wire_format():
    a = admission()
    ulaw = a.filler_audio(AudioFormat("pcmu", 8000))
    pcm = a.filler_audio(AudioFormat("pcm", 24000))
    assert len(ulaw) == 8000 and len(pcm) == 48000  # one second in each
    assert a.filler_audio(AudioFormat("pcmu", 8000)) is ulaw


@pytest.mark.anyio
async def test_a_response_s_jobs_are_urgent_until_its_first_audio_and_count_towards_it():
    runtime = make_runtime(concurrency={"cpu_jobs": 1})
    work = runtime.admission.begin()
    release = anyio.Event()

    async def blocker() -> None:
        async with runtime.cpu.place("other"):
            await release.wait()

    async def response_job(name: str) -> None:
        WORK.set(work)
        await runtime.run(lambda: None)

    async with anyio.create_task_group() as tg:
        tg.start_soon(blocker)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(response_job, "first sentence")
        await anyio.wait_all_tasks_blocked()
        assert runtime.cpu.waiting_in(URGENT) == 1
        release.set()
    assert work.cpu_s > 0  # its job's time counts towards its first audio
    runtime.admission.reached(work)
    release = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(blocker)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(response_job, "second sentence")
        await anyio.wait_all_tasks_blocked()
        assert runtime.cpu.waiting == 1 and runtime.cpu.waiting_in(LATER) == 1  # behind anyone's first audio
        release.set()


@pytest.mark.anyio
async def test_an_answer_made_ahead_of_its_turn_s_end_waits_behind_a_waiting_caller_until_the_turn_ends():
    runtime = make_runtime(concurrency={"cpu_jobs": 1})
    gate = anyio.Event()
    ahead = runtime.admission.begin(gate)
    release = anyio.Event()

    async def blocker() -> None:
        async with runtime.cpu.place("other"):
            await release.wait()

    async def response_job() -> None:
        WORK.set(ahead)
        await runtime.run(lambda: None)

    for turn_ended, expected in [(False, AHEAD), (True, URGENT)]:
        if turn_ended:
            gate.set()
        release = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(blocker)
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(response_job)
            await anyio.wait_all_tasks_blocked()
            assert runtime.cpu.waiting_in(expected) == 1
            release.set()
