"""Running the action graph: needs first, ``jobs`` at a time; a failure skips the rest of its group
and, unless ``keep_going``, keeps groups that have not started from starting, while the groups under
way finish. Synchronised with events and barriers, never with long sleeps."""

from __future__ import annotations

import _thread
import threading
import time
from collections.abc import Callable

import pytest

from wasmforge.build.graph import Task, run_graph

WAIT = 5.0  # seconds: only reached when something is broken


class Journal:
    """What the tasks did, in order, from any thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[str] = []
        self.running = 0
        self.most_running = 0

    def add(self, event: str) -> None:
        with self.lock:
            self.events.append(event)

    def task(self, name: str, body: Callable[[], object] | None = None) -> Callable[[], object]:
        def run() -> object:
            with self.lock:
                self.events.append(f"start {name}")
                self.running += 1
                self.most_running = max(self.most_running, self.running)
            try:
                return body() if body is not None else name
            finally:
                with self.lock:
                    self.running -= 1
                    self.events.append(f"end {name}")

        return run

    def started(self) -> list[str]:
        return [e.removeprefix("start ") for e in self.events if e.startswith("start ")]


def fail(message: str) -> Callable[[], object]:
    def run() -> object:
        raise RuntimeError(message)

    return run


def no_interrupt() -> None:
    msg = "on_interrupt called without an interrupt"
    raise AssertionError(msg)


def test_results_are_returned_by_task_id() -> None:
    journal = Journal()
    tasks = [Task("a", "g", journal.task("a", lambda: 1)),
             Task("b", "g", journal.task("b", lambda: {"x": 2}))]
    outcome = run_graph(tasks, jobs=2, keep_going=False, on_interrupt=no_interrupt)
    assert outcome.results == {"a": 1, "b": {"x": 2}}
    assert outcome.errors == {}
    assert outcome.failed_groups == []


def test_empty_graph() -> None:
    outcome = run_graph([], jobs=4, keep_going=False, on_interrupt=no_interrupt)
    assert (outcome.results, outcome.errors, outcome.failed_groups) == ({}, {}, [])


def test_a_task_starts_only_after_everything_it_needs() -> None:
    journal = Journal()
    tasks = [
        Task("link", "app", journal.task("link"), needs=("compile a", "compile b")),
        Task("optimize", "app", journal.task("optimize"), needs=("link",)),
        Task("compile a", "app", journal.task("compile a")),
        Task("compile b", "app", journal.task("compile b")),
    ]
    outcome = run_graph(tasks, jobs=4, keep_going=False, on_interrupt=no_interrupt)
    assert set(outcome.results) == {"link", "optimize", "compile a", "compile b"}
    events = journal.events
    assert events.index("start link") > events.index("end compile a")
    assert events.index("start link") > events.index("end compile b")
    assert events.index("start optimize") > events.index("end link")


def test_tasks_start_in_the_order_given() -> None:
    journal = Journal()
    tasks = [Task(name, name[0], journal.task(name)) for name in ("a1", "b1", "a2", "c1")]
    run_graph(tasks, jobs=1, keep_going=False, on_interrupt=no_interrupt)
    assert journal.started() == ["a1", "b1", "a2", "c1"]


def test_independent_tasks_run_in_parallel_up_to_jobs() -> None:
    journal = Journal()
    barrier = threading.Barrier(3, timeout=WAIT)  # passes only if three run at once

    def meet() -> object:
        return barrier.wait()

    tasks = [Task(f"t{i}", f"g{i}", journal.task(f"t{i}", meet)) for i in range(6)]
    outcome = run_graph(tasks, jobs=3, keep_going=False, on_interrupt=no_interrupt)
    assert outcome.errors == {}
    assert len(outcome.results) == 6
    assert journal.most_running == 3


def test_never_more_than_jobs_tasks_at_once() -> None:
    journal = Journal()
    release = threading.Event()

    def hold() -> object:
        return release.wait(0.02)

    tasks = [Task(f"t{i}", "g", journal.task(f"t{i}", hold)) for i in range(8)]
    outcome = run_graph(tasks, jobs=2, keep_going=False, on_interrupt=no_interrupt)
    assert len(outcome.results) == 8
    assert journal.most_running == 2


def test_one_job_runs_one_task_at_a_time() -> None:
    journal = Journal()
    tasks = [Task(f"t{i}", f"g{i}", journal.task(f"t{i}", lambda: time.sleep(0.01)))
             for i in range(4)]
    run_graph(tasks, jobs=1, keep_going=False, on_interrupt=no_interrupt)
    assert journal.most_running == 1
    assert journal.events == [e for i in range(4) for e in (f"start t{i}", f"end t{i}")]


def test_a_failure_skips_the_rest_of_its_group() -> None:
    journal = Journal()
    tasks = [
        Task("compile", "app", journal.task("compile", fail("syntax error"))),
        Task("link", "app", journal.task("link"), needs=("compile",)),
        Task("docs", "app", journal.task("docs")),  # same group, needs nothing: skipped too
    ]
    outcome = run_graph(tasks, jobs=1, keep_going=True, on_interrupt=no_interrupt)
    assert journal.started() == ["compile"]
    assert list(outcome.errors) == ["compile"]
    assert str(outcome.errors["compile"]) == "syntax error"
    assert outcome.failed_groups == ["app"]
    assert outcome.results == {}


def test_keep_going_lets_other_groups_finish() -> None:
    journal = Journal()
    tasks = [
        Task("a compile", "a", journal.task("a compile", fail("boom"))),
        Task("a link", "a", journal.task("a link"), needs=("a compile",)),
        Task("b compile", "b", journal.task("b compile")),
        Task("b link", "b", journal.task("b link"), needs=("b compile",)),
        Task("c build", "c", journal.task("c build")),
    ]
    outcome = run_graph(tasks, jobs=1, keep_going=True, on_interrupt=no_interrupt)
    assert set(outcome.results) == {"b compile", "b link", "c build"}
    assert "a link" not in journal.started()
    assert outcome.failed_groups == ["a"]


def test_keep_going_records_every_failure_in_order() -> None:
    tasks = [
        Task("a", "a", fail("first")),
        Task("b", "b", fail("second")),
        Task("c", "c", lambda: "ok"),
    ]
    outcome = run_graph(tasks, jobs=1, keep_going=True, on_interrupt=no_interrupt)
    assert list(outcome.errors) == ["a", "b"]
    assert outcome.failed_groups == ["a", "b"]
    assert outcome.results == {"c": "ok"}


def test_without_keep_going_groups_not_started_never_start_after_a_failure() -> None:
    journal = Journal()
    tasks = [
        Task("a", "a", journal.task("a", fail("boom"))),
        Task("b", "b", journal.task("b")),
        Task("c", "c", journal.task("c")),
    ]
    outcome = run_graph(tasks, jobs=1, keep_going=False, on_interrupt=no_interrupt)
    assert journal.started() == ["a"]
    assert list(outcome.errors) == ["a"]
    assert outcome.failed_groups == ["a"]
    assert outcome.results == {}


def _slow_and_failing(
    result: str, *, linger: float = 0.0
) -> tuple[Callable[[], object], Callable[[], object]]:
    """Two task bodies: one that runs until the other has failed (then ``linger`` more seconds)
    and returns ``result``, and one that fails once the first is running."""
    slow_started = threading.Event()
    failed = threading.Event()

    def slow() -> object:
        slow_started.set()
        failed.wait(WAIT)
        time.sleep(linger)
        return result

    def failing() -> object:
        slow_started.wait(WAIT)
        failed.set()
        msg = "boom"
        raise RuntimeError(msg)

    return slow, failing


def test_without_keep_going_no_new_group_starts_but_started_groups_finish() -> None:
    """A target half built is a target half wasted: the groups under way when another fails run
    to their end (new tasks of theirs included); groups not started yet never start."""
    journal = Journal()
    slow, failing = _slow_and_failing("slow result", linger=0.1)  # the failure is handled meanwhile
    tasks = [
        Task("slow", "a", journal.task("slow", slow)),
        Task("fail", "b", journal.task("fail", failing)),
        Task("later", "c", journal.task("later")),
        Task("after slow", "a", journal.task("after slow"), needs=("slow",)),
        Task("b more", "b", journal.task("b more")),
    ]
    outcome = run_graph(tasks, jobs=2, keep_going=False, on_interrupt=no_interrupt)
    assert outcome.results == {"slow": "slow result", "after slow": "after slow"}
    assert set(journal.started()) == {"slow", "fail", "after slow"}
    assert journal.events.index("start after slow") > journal.events.index("end slow")
    assert list(outcome.errors) == ["fail"]
    assert outcome.failed_groups == ["b"]


def test_with_keep_going_running_and_later_tasks_of_other_groups_run() -> None:
    journal = Journal()
    slow, failing = _slow_and_failing("slow")
    tasks = [
        Task("slow", "a", journal.task("slow", slow)),
        Task("fail", "b", journal.task("fail", failing)),
        Task("b more", "b", journal.task("b more")),
        Task("later", "c", journal.task("later")),
        Task("after slow", "a", journal.task("after slow"), needs=("slow",)),
    ]
    outcome = run_graph(tasks, jobs=2, keep_going=True, on_interrupt=no_interrupt)
    assert set(outcome.results) == {"slow", "later", "after slow"}
    assert "b more" not in journal.started()
    assert outcome.failed_groups == ["b"]


def test_a_task_that_fails_keeps_its_exception_object() -> None:
    error = ValueError("exact")

    def raise_it() -> object:
        raise error

    outcome = run_graph([Task("t", "g", raise_it)], jobs=1, keep_going=False,
                        on_interrupt=no_interrupt)
    assert outcome.errors["t"] is error


def test_an_interrupt_calls_on_interrupt_and_goes_on() -> None:
    unblock = threading.Event()
    interrupted: list[bool] = []
    journal = Journal()

    def blocked() -> object:
        time.sleep(0.05)  # let the main thread get back to waiting on its workers
        _thread.interrupt_main()  # what Ctrl-C does to the main thread
        return unblock.wait(WAIT)

    def on_interrupt() -> None:
        interrupted.append(True)
        unblock.set()  # what stops a worker blocked on a tool

    tasks = [Task("blocked", "g", journal.task("blocked", blocked)),
             Task("next", "g", journal.task("next"), needs=("blocked",))]
    with pytest.raises(KeyboardInterrupt):
        run_graph(tasks, jobs=1, keep_going=False, on_interrupt=on_interrupt)
    assert interrupted == [True]
    assert unblock.is_set()
    assert journal.running == 0  # the pool was shut down with the worker finished
    assert "next" not in journal.started()
