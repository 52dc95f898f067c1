"""How many threads a backend should compute with on the CPU.

Convolutions are bound by the vector units, and two hyper-threads of one core share those, so
one worker per *physical* core is the fastest setting; more workers only add synchronisation
between the many short operators of a small network. Only the cores this process may run on
count (``taskset``, container CPU sets), which ``os.cpu_count()`` ignores.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

__all__ = ["allowed_cpus", "core_of", "physical_cores"]

_TOPOLOGY = Path("/sys/devices/system/cpu")


def allowed_cpus() -> set[int]:
    """The logical CPUs this process may run on (its affinity: taskset, container CPU sets)."""
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


def core_of(cpu: int) -> tuple[str, str] | None:
    """(package, core) that logical CPU ``cpu`` belongs to, or None where sysfs does not say."""
    topology = _TOPOLOGY / f"cpu{cpu}" / "topology"
    try:
        return (
            (topology / "physical_package_id").read_text().strip(),
            (topology / "core_id").read_text().strip(),
        )
    except OSError:
        return None


@lru_cache(maxsize=1)
def physical_cores() -> int:
    """Physical cores among the CPUs this process may use (logical CPUs where unknown), at least 1."""
    cpus = allowed_cpus()
    cores = {core_of(cpu) for cpu in cpus}
    if None in cores:
        return max(len(cpus), 1)
    return max(len(cores), 1)
