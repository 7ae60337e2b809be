"""What every policy shares: following the log in a thread of its own.

A policy processes the log a chunk at a time (`run_once`, 0 when it has caught up) and
publishes how far it got (`_advanced`). Following, it runs chunks until caught up, then
waits for a writer's wake-up (`wake`, a writer listener) or `poll_seconds`; a chunk that
fails is logged, kept in `error`, and tried again after `poll_seconds`.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol, Self

from socialtrading.commands.state import Outcome

log = logging.getLogger(__name__)


class Acknowledgement(Protocol):
    """What the writer's `submit` returns (`commands/writer.Ack`): what a policy waits for."""

    def result(self, timeout: float | None = None) -> Outcome:
        """The outcome once stored; raises the command's error."""
        ...


class LogFollower:
    """Base of the policies: the following thread and the waiting on its progress."""

    thread_name = "policy"

    def __init__(self, poll_seconds: float) -> None:
        self.poll_seconds = poll_seconds
        self.error: Exception | None = None
        self._position = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._progress = threading.Condition()

    @property
    def position(self) -> int:
        """The notification id up to which the log has been processed."""
        return self._position

    def run_once(self) -> int:
        """Process one chunk after the position; the number of events read (0: none)."""
        raise NotImplementedError

    def catch_up(self) -> int:
        """Process chunks until the end of the log; the position reached."""
        while self.run_once():
            pass
        return self._position

    def _advanced(self, position: int) -> None:
        """Publish that the log is processed up to `position`."""
        with self._progress:
            self._position = position
            self._progress.notify_all()

    def start(self) -> Self:
        """Follow the log in a background thread."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._follow, name=self.thread_name, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop following (after the chunk in hand)."""
        if self._thread is not None:
            self._stop.set()
            self._wake.set()
            self._thread.join()
            self._thread = None

    def wake(self, _position: int = 0) -> None:
        """Tell the policy new events were committed (a writer listener)."""
        self._wake.set()

    def wait_for(self, position: int, timeout: float) -> bool:
        """Wait until the log is processed up to `position`; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._progress:
            while self._position < position:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._progress.wait(remaining)
        return True

    def _follow(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                while self.run_once() and not self._stop.is_set():
                    pass
            except Exception as error:
                self.error = error
                log.exception("%s failed on a chunk; retrying", self.thread_name)
                time.sleep(self.poll_seconds)
                continue
            self.error = None
            self._wake.wait(self.poll_seconds)
