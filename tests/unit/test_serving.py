"""``antt serve``'s server: SIGTERM and SIGINT stop it gracefully with exit code 0 (plain
uvicorn re-raises the signal after its shutdown, and the process dies of it: -15); once
started, what start-up built is frozen out of the garbage collector's full collections."""

import signal
import subprocess
import sys
import textwrap

import pytest

from shared.settings import PROJECT_ROOT

APP = textwrap.dedent(
    """
    import gc
    import sys

    import uvicorn

    from shared.serving import serve

    SHUTDOWN = sys.argv[1]


    async def app(scope, receive, send):
        assert scope["type"] == "lifespan"
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
                print("started", flush=True)
            elif message["type"] == "lifespan.shutdown":
                print("shutting down", flush=True)
                print(f"frozen {gc.get_freeze_count()}", flush=True)
                await send({"type": f"lifespan.shutdown.{SHUTDOWN}"})
                return


    config = uvicorn.Config(app, port=0, log_config=None, log_level="warning", lifespan="on")
    sys.exit(serve(config))
    """
)


def run_until(stop: signal.Signals, shutdown: str = "complete") -> tuple[int, str]:
    process = subprocess.Popen(
        [sys.executable, "-c", APP, shutdown],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "started"
        process.send_signal(stop)
        code = process.wait(timeout=20)
        return code, process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_ends_the_server_gracefully_with_exit_code_0(stop):
    code, output = run_until(stop)
    assert "shutting down" in output  # the app's shutdown ran
    assert code == 0, output


def test_what_start_up_built_is_kept_off_the_garbage_collectors_full_collections():
    code, output = run_until(signal.SIGTERM)
    frozen = int(output.split("frozen ", 1)[1].split()[0])
    assert frozen > 10_000, output  # the modules, the app and all start-up made
    assert code == 0


def test_a_failed_shutdown_exits_with_1():
    code, output = run_until(signal.SIGTERM, shutdown="failed")
    assert "shutting down" in output
    assert code == 1, output
