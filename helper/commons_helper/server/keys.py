"""Every typed key of the application's state, in one module (no import cycles between views)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from ..config import Settings
from ..paths import Paths

if TYPE_CHECKING:
    from ..ledger import Ledger
    from ..queue import JobQueue
    from ..store import Database
    from ..worker import Worker
    from .events import EventHub
    from .session import Sessions


def _unchanged(settings: Settings) -> Settings:
    return settings


@dataclass
class LiveSettings:
    """The settings jobs are prepared with: the config file under ``serve``'s command-line overrides.

    ``value`` re-reads the config file when it changed (the web page saves settings there),
    so the next job uses the new settings without a restart. A broken file keeps the last good one.
    """

    paths: Paths
    initial: Settings
    #: config-file settings → effective settings (``serve``'s command-line options on top)
    apply: Callable[[Settings], Settings] = _unchanged
    _stamp: tuple[int, int] | None = None
    _current: Settings | None = None

    @property
    def value(self) -> Settings:
        from ..config import load_settings
        from ..errors import CommonsHelperError

        try:
            st = self.paths.config_file.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if self._current is None:
            self._current = self.initial
        elif stamp != self._stamp and stamp is not None:
            try:
                self._current = self.apply(load_settings(self.paths))
            except CommonsHelperError:
                pass  # a half-edited file: keep the last good settings
        self._stamp = stamp
        return self._current


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int
    max_meta_bytes: int


PATHS: web.AppKey[Paths] = web.AppKey("paths")
SETTINGS: web.AppKey[LiveSettings] = web.AppKey("settings")
SECRET: web.AppKey[str] = web.AppKey("secret")
LIMITS: web.AppKey[Limits] = web.AppKey("limits")
DB: web.AppKey[Database] = web.AppKey("db")
QUEUE: web.AppKey[JobQueue] = web.AppKey("queue")
LEDGER: web.AppKey[Ledger] = web.AppKey("ledger")
EVENTS: web.AppKey[EventHub] = web.AppKey("events")
WORKER: web.AppKey[Worker] = web.AppKey("worker")
SESSIONS: web.AppKey[Sessions] = web.AppKey("sessions")
