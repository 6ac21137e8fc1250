"""What processes cost, read from Linux's /proc: CPU time, children, idleness.

The PostgreSQL server's CPU is that of the postmaster and all of its processes: the
backends (one per connection), the background writers and autovacuum. A process that
exits is reaped by its parent and its CPU added to the parent's ``cutime``/``cstime``
(proc(5)), so the postmaster's own four counters plus its live children's give every CPU
second the server has spent since it started, connections that came and went included.
"""

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

TICK = os.sysconf("SC_CLK_TCK")
# A backend's title: "postgres: [cluster: ]USER DATABASE HOST(PORT) activity"; the others'
# "postgres: [cluster: ]ROLE" (checkpointer, walwriter, autovacuum worker, io worker 0...).
_BACKEND = re.compile(r"^postgres: (?:\S+: )?\S+ (\S+) (?:\S+\(\d+\)|\[local\])")
_ROLE = re.compile(r"^postgres: (?:\S+: )?([a-z]+(?: [a-z]+)?)")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command (field 3, the state, first)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def cpu_ticks(pid: int, *, reaped: bool = False) -> int:
    """utime + stime of a process, with its reaped children's (cutime + cstime) if asked;
    0 for a process that is gone."""
    fields = _stat(pid)
    if fields is None:
        return 0
    own = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of proc(5)
    return own + (int(fields[13]) + int(fields[14]) if reaped else 0)


def children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def wait_idle(pid: int, *, quiet: float = 0.5, timeout: float = 120) -> None:
    """Return once ``pid`` has used no CPU for ``quiet`` seconds (to the clock tick): the
    request it was serving has finished, its tail after the response too."""
    deadline = time.monotonic() + timeout
    last = cpu_ticks(pid)
    still_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(quiet / 4)
        now = cpu_ticks(pid)
        if now != last:
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since >= quiet:
            return
    raise RuntimeError(f"process {pid} did not go idle within {timeout} s")


@dataclass(frozen=True)
class ServerCPU:
    """A reading of the server's CPU: all of it, and each live process's (by pid: what it
    is, a backend's database or another process's role, and its CPU ticks so far)."""

    seconds: float
    processes: dict[int, tuple[str, int]]


BACKEND = "database "  # the kind of a backend: "database NAME"


class PostgresCPU:
    """The CPU seconds a PostgreSQL server on this machine has spent, read from /proc.

    The server is found from a connection: its backend's parent is the postmaster. None of
    this works for a server on another machine or in another PID namespace: ``available``
    is then False and the readings are None.
    """

    def __init__(self, url: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            fields = _stat(conn.info.backend_pid)
        self.postmaster = int(fields[1]) if fields is not None else None
        if self.postmaster is not None:
            command = Path(f"/proc/{self.postmaster}/cmdline").read_bytes()
            if b"postgres" not in command:  # another kind of parent: not a postmaster
                self.postmaster = None

    @property
    def available(self) -> bool:
        return self.postmaster is not None

    def read(self) -> ServerCPU | None:
        if self.postmaster is None:
            return None
        # Children first: one that exits meanwhile is then counted twice (alive, then in
        # the postmaster's cutime) rather than lost; a tick at most.
        ticks = 0
        processes: dict[int, tuple[str, int]] = {}
        for child in children(self.postmaster):
            used = cpu_ticks(child, reaped=True)
            ticks += used
            processes[child] = (self._kind(child), used)
        ticks += cpu_ticks(self.postmaster, reaped=True)
        return ServerCPU(seconds=ticks / TICK, processes=processes)

    @staticmethod
    def _kind(pid: int) -> str:
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
        except (FileNotFoundError, ProcessLookupError, UnicodeDecodeError):
            return "gone"
        if backend := _BACKEND.match(title):
            return BACKEND + backend.group(1)
        role = _ROLE.match(title)
        return role.group(1) if role else "other"


def seconds_by_kind(before: ServerCPU, after: ServerCPU) -> dict[str, float]:
    """The CPU used between two readings by each kind of process alive at the second one:
    since the first reading, or since it started if it started meanwhile. Processes that
    exited meanwhile (closed connections, autovacuum workers) are not here: their CPU is
    only in the server's total."""
    ticks: dict[str, int] = {}
    for pid, (kind, used) in after.processes.items():
        earlier = before.processes.get(pid)
        since = earlier[1] if earlier is not None and earlier[0] == kind else 0
        ticks[kind] = ticks.get(kind, 0) + used - since
    return {kind: used / TICK for kind, used in ticks.items()}
