"""API calls off the UI thread: each in a Textual thread worker with its own `Hooks`.

One `Hooks` holds one SQLite connection and is for one thread at a time, so a worker opens its own,
makes its calls and closes it. The result (or the HooksError, whose one line is the CLI's message)
comes back on the UI thread through the worker's state-change message; nothing waits for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.worker import Worker, WorkerState

import alpana_hooks.store  # noqa: F401 - what Hooks imports on first use: here, once, not in the first worker
from alpana_hooks.api import Hooks
from alpana_hooks.errors import HooksError

Done = Callable[[Any], None]
Failed = Callable[[Any], None]


class ApiCalls:
    """Mixin for a screen or widget: `self.api(call, done, failed)` runs call(hooks) in a thread worker."""

    def api(self, call: Callable[[Hooks], Any], done: Done | None = None, failed: Failed | None = None, *,
            group: str = "read", exclusive: bool = False, any_error: bool = False) -> Worker:
        """Run call(hooks) in a thread worker; then done(result) on the UI thread, or failed(error) for a
        HooksError (for any error with any_error); other errors are reported by the app."""
        settings = self.app.settings  # type: ignore[attr-defined]

        def work() -> Any:
            with Hooks.with_settings(settings) as hooks:
                return call(hooks)

        worker = self.run_worker(work, thread=True, group=group, exclusive=exclusive,  # type: ignore[attr-defined]
                                 exit_on_error=False, name=group)
        self._api_callbacks[worker] = (done, failed, any_error)
        return worker

    @property
    def _api_callbacks(self) -> dict[Worker, tuple[Done | None, Failed | None, bool]]:
        try:
            return self.__callbacks
        except AttributeError:
            self.__callbacks: dict[Worker, tuple[Done | None, Failed | None, bool]] = {}
            return self.__callbacks

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        entry = self._api_callbacks.get(event.worker)
        if entry is None or event.state in (WorkerState.PENDING, WorkerState.RUNNING):
            return
        del self._api_callbacks[event.worker]
        event.stop()
        done, failed, any_error = entry
        if event.state == WorkerState.SUCCESS:
            if done is not None:
                done(event.worker.result)
        elif event.state == WorkerState.ERROR:
            error = event.worker.error
            if failed is not None and (any_error or isinstance(error, HooksError)):
                failed(error)
            else:
                self.app.report_error(error)  # type: ignore[attr-defined]
