"""A queued run's place in the CPU queue and how long it may wait, in words.

On a CPU one run trains at a time (``runs.process``); the others wait as ``queued``. A student
who pressed Start wants to know where they stand: the place counts the running run and the
queued runs created earlier, and the wait adds what is left of each one's time budget (a run
without a budget has no end known in advance, so then no estimate is given).
"""

from __future__ import annotations

import time

from cifar_core.errors import CifarError
from cifar_core.runs import Run
from cifar_core.ui.estimates import duration_words


def _left_s(run: Run, now: float) -> float | None:
    """Seconds the run ahead may still train: its budget less what it used, or None without a budget."""
    try:
        budget = run.config().budget_minutes
    except CifarError:
        return None
    if budget is None:
        return None
    started = run.raw_status().get("started") if run.state == "running" else None
    used = now - started if isinstance(started, (int, float)) else 0.0
    return max(0.0, budget * 60 - used)


def queue_note(run: Run, runs: list[Run], now: float | None = None) -> str:
    """``"Queued: 3rd in line behind `a` (training) and `b`; about 4 min of training ahead."``"""
    now = time.time() if now is None else now
    created = run.raw_status().get("created") or 0.0
    running = [other for other in runs if other.id != run.id and other.state == "running"]
    earlier = [
        other for other in runs if other.id != run.id and other.state == "queued" and (other.raw_status().get("created") or 0.0) < created
    ]
    ahead = running + sorted(earlier, key=lambda other: other.raw_status().get("created") or 0.0)
    if not ahead:
        return "Queued: the training process is starting…"
    place = len(ahead) + 1
    names = ", ".join(f"`{other.id}`" + (" (training)" if other in running else "") for other in ahead[:3])
    more = f" and {len(ahead) - 3} more" if len(ahead) > 3 else ""
    lefts = [_left_s(other, now) for other in ahead]
    if any(left is None for left in lefts):
        wait = "a run ahead has no time budget, so its end is not known in advance"
    else:
        wait = f"about {duration_words(sum(lefts))} of training ahead"
    return f"Queued: number {place} in line, behind {names}{more} (one run trains at a time on a CPU); {wait}."
