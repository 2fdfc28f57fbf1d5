"""Running a graph of tasks, ``jobs`` at a time, each as soon as the tasks it needs are done.

Tasks are grouped (one group per target): when a task fails, the rest of its group is skipped, and
unless ``keep_going`` no group that has not started yet starts; the groups already under way run to
their end, so that what they make is kept (a target half built is a target half wasted). Ctrl-C and SIGTERM reach the main thread, which waits here in short
slices: ``on_interrupt`` stops whatever the workers are blocked on, and the interrupt goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

# How often the main thread wakes up while tasks run, so that Ctrl-C is handled promptly.
POLL_SECONDS = 0.2
# After Ctrl-C, how long the workers get to unwind (a worker stuck on a frozen engine is left).
UNWIND_SECONDS = 3


@dataclass(frozen=True)
class Task:
    id: str
    group: str
    run: Callable[[], object]
    needs: tuple[str, ...] = ()


@dataclass
class GraphOutcome:
    results: dict[str, object]
    errors: dict[str, BaseException]  # by task id, in the order they happened
    failed_groups: list[str]


def run_graph(
    tasks: Sequence[Task], *, jobs: int, keep_going: bool, on_interrupt: Callable[[], None],
) -> GraphOutcome:
    outcome = GraphOutcome(results={}, errors={}, failed_groups=[])
    waiting = {task.id: set(task.needs) for task in tasks}
    started: set[str] = set()
    started_groups: set[str] = set()
    running: dict[Future[object], Task] = {}
    stopped = False
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="wasmforge-build")
    try:
        while True:
            for task in tasks:  # in the order given: earlier targets first
                if len(running) >= jobs:
                    break
                if task.id in started or waiting[task.id] \
                        or task.group in outcome.failed_groups \
                        or (stopped and task.group not in started_groups):
                    continue
                started.add(task.id)
                started_groups.add(task.group)
                running[pool.submit(task.run)] = task
            if not running:
                break
            done, _ = wait(running, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            for future in done:
                task = running.pop(future)
                error = future.exception()
                if error is not None:
                    outcome.errors[task.id] = error
                    if task.group not in outcome.failed_groups:
                        outcome.failed_groups.append(task.group)
                    stopped = stopped or not keep_going
                    continue
                outcome.results[task.id] = future.result()
                for needs in waiting.values():
                    needs.discard(task.id)
    except KeyboardInterrupt:
        on_interrupt()
        pool.shutdown(wait=False, cancel_futures=True)
        wait(running, timeout=UNWIND_SECONDS)
        raise
    pool.shutdown(wait=True)
    return outcome
