"""Child processes for tests: collect their output on a thread and wait for lines in it."""

from __future__ import annotations

import atexit
import re
import signal
import subprocess
import threading
import time
from collections.abc import Sequence

# Every child spawned here, so that none outlives the test run (an interrupted run included).
_LIVE: set[subprocess.Popen[str]] = set()


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_LIVE):
        if process.poll() is None:
            process.kill()


class ProcessOutput:
    """Reads a text stream line by line on a daemon thread, so the child never blocks on a pipe."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self._lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._pump, args=(process,), daemon=True)
        self._thread.start()

    def _pump(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._cond:
                self._lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def text(self) -> str:
        with self._cond:
            return "".join(self._lines)

    def wait_for(
        self, pattern: str | re.Pattern[str], timeout: float, process: subprocess.Popen[str]
    ) -> re.Match[str]:
        """The first match of pattern in the output; AssertionError on timeout or exit."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = regex.search("".join(self._lines))
                if found:
                    return found
                remaining = deadline - time.monotonic()
                exited = process.poll() is not None and not self._thread.is_alive()
                if remaining <= 0 or exited:
                    raise AssertionError(
                        f"{regex.pattern!r} not seen in output within {timeout}s "
                        f"(exit code {process.poll()}):\n{''.join(self._lines)}"
                    )
                self._cond.wait(min(remaining, 0.2))

    def join(self, timeout: float = 5) -> None:
        self._thread.join(timeout)


def stop_process(
    process: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 10
) -> int:
    """Signal a child we started and wait; SIGKILL it if it does not stop in time."""
    _LIVE.discard(process)
    if process.poll() is None:
        process.send_signal(sig)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
            raise
    return process.returncode


def spawn(
    command: Sequence[str], *, env: dict[str, str], cwd: str, new_session: bool = False
) -> tuple[subprocess.Popen[str], ProcessOutput]:
    process = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=cwd,
        start_new_session=new_session,
    )
    _LIVE.add(process)
    return process, ProcessOutput(process)
