"""CPU per chat event in one gunicorn worker, events sent one at a time by two clients (no queueing, so
the figure is the event's own cost, steadier than the load phases on a shared machine).

`python -m bench.chat_cpu [N]` (under `flock /work/bench.lock`): starts the service with one worker on
the benchmark's servers (BENCH_INSTANCE), makes two users and their conversation, then sends N (400)
`message:send` (the peer receives each on the same worker), N `typing` and N `message:read` that do not
move the read position, and prints the worker's user + system CPU milliseconds per event: the median of
five rounds of N/5 (the machine's other work inflates some rounds), with the lowest and highest.
"""
import json
import os
import signal
import statistics
import subprocess  # nosec B404
import sys
import time
import uuid
from pathlib import Path

import psutil

ROUNDS = 5  # the events are timed in rounds; the median round is the figure (steadier beside other work)


def profile(pid, name):
    """py-spy recording process `pid` into BENCH_PROFILE/<name>.txt, when BENCH_PROFILE is set."""
    folder = os.environ.get("BENCH_PROFILE")
    if not folder:
        return None
    os.makedirs(folder, exist_ok=True)
    command = [str(Path(sys.executable).parent / "py-spy"), "record", "-r", "200", "--nonblocking"]
    spy = subprocess.Popen([*command,  # nosec
                            "-f", "raw", "-o", os.path.join(folder, name.replace(":", "-") + ".txt"),
                            "-p", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)  # let it attach
    return spy


def main(count):
    import socketio

    from bench import __main__ as bench

    bench.WORKERS = 1
    env = {**bench.service_env(bench.service_urls()), "CHAT_TYPING_LIMIT": "10000000/minute"}
    bench.RESULTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(["flask", "db", "upgrade"], cwd=bench.ROOT, env={**env, "APP_ENV": "development"},  # nosec
                   check=True, capture_output=True)
    service, base = bench.start("chat-cpu", "wsgi:app", env)
    try:
        made = subprocess.run([str(bench.BIN / "python"), "-m", "bench.chat", "setup", "2"], cwd=bench.ROOT,  # nosec
                              env=env, check=True, capture_output=True, text=True)
        first, second = json.loads(made.stdout.strip().splitlines()[-1])
        received = []
        sender, peer = socketio.Client(), socketio.Client()
        peer.on("message:new", received.append, namespace="/chat")
        for client, person in ((sender, first), (peer, second)):
            client.connect(base, namespaces=["/chat"], auth={"token": person["token"]}, transports=["websocket"])
        conversation_id = first["conversation_id"]

        def message():
            return {"conversation_id": conversation_id, "body": "cpu hello", "client_id": uuid.uuid4().hex}

        for _ in range(50):  # warm up
            sender.call("message:send", message(), namespace="/chat")
        [worker] = psutil.Process(service.pid).children()

        def cpu():
            times = worker.cpu_times()
            return times.user + times.system, times.system

        def run(name, client, payload):
            spy = profile(worker.pid, name)
            rounds, started, kernel = [], time.perf_counter(), 0
            for _ in range(ROUNDS):
                before, system = cpu()
                for _ in range(count // ROUNDS):
                    ack = client.call(name, payload(), namespace="/chat")
                    assert "code" not in ack, ack
                after, system_after = cpu()
                rounds.append((after - before) * 1000 / (count // ROUNDS))
                kernel += system_after - system
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=60)
            done = count // ROUNDS * ROUNDS
            print(f"{name}: {statistics.median(rounds):.2f} ms CPU each, the median of {ROUNDS} rounds "
                  f"(lowest {min(rounds):.2f}, highest {max(rounds):.2f}; {kernel * 1000 / done:.2f} of it in the "
                  f"kernel; {(time.perf_counter() - started) * 1000 / done:.2f} ms from emit to ack)", flush=True)

        run("message:send", sender, message)
        run("typing", sender, lambda: {"conversation_id": conversation_id, "is_typing": True})
        last = received[-1]["id"]
        peer.call("message:read", {"conversation_id": conversation_id, "message_id": last}, namespace="/chat")
        run("message:read", peer, lambda: {"conversation_id": conversation_id, "message_id": last})
        print(f"load average {os.getloadavg()[0]:.2f}")
        sender.disconnect()
        peer.disconnect()
    finally:
        bench.stop(service)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 400)
