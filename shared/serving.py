"""One service under uvicorn, stopped gracefully by SIGTERM or SIGINT with exit code 0.

uvicorn alone catches the signal, shuts down, then raises the signal again so that the
process dies of it: exit code -15 after SIGTERM, which a supervisor reads as a kill. Here
the server keeps the signal it stopped on instead, and the command returns 0."""

import contextlib
import gc
import signal
import socket
import threading
from collections.abc import Iterator
from types import FrameType

import uvicorn

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STARTUP_FAILURE = 3  # uvicorn's exit code for an app that did not start
SHUTDOWN_FAILURE = 1


def freeze_what_start_up_built() -> None:
    """Keep the cyclic garbage collector off what start-up built (modules, models, schemas,
    the app: hundreds of thousands of objects that live as long as the process). Each full
    collection walked all of them, 100-170 ms on the 2-core machine, about a fifth of a
    consumer's time under load; afterwards it walks only what was made since. Garbage made
    later is collected as before."""
    gc.collect()
    gc.freeze()


class GracefulServer(uvicorn.Server):
    """uvicorn's server, but a stop signal ends it without being raised again. A second
    SIGINT forces the exit, as in uvicorn. Once started, what start-up built is kept off
    the garbage collector's full collections (``freeze_what_start_up_built``)."""

    stopped_by: int | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            freeze_what_start_up_built()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach the main thread only
            return
        previous = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        if self.stopped_by is None:
            self.stopped_by = sig
        self.handle_exit(sig, frame)


def serve(config: uvicorn.Config) -> int:
    """Serve ``config``'s app until SIGTERM or SIGINT. The process's exit code: 0 after a
    clean stop, 1 if the app's shutdown failed, 3 if it did not start."""
    server = GracefulServer(config)
    server.run()  # an app that fails to start exits with 3 from in here, as in uvicorn
    if not server.started:
        return STARTUP_FAILURE
    if getattr(getattr(server, "lifespan", None), "should_exit", False):
        return SHUTDOWN_FAILURE
    return 0
