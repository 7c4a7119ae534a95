"""Chat under load: BENCH_CHAT_CLIENTS Socket.IO clients (1,000 by default) connected at once, in pairs.

`python -m bench.chat setup N` (run with the service's environment) makes N users, a signed-in
session and access token for each, and one conversation per pair; it prints them as JSON.
`measure(base, people)` then connects every client over WebSocket and measures the round trip, from
`message:send` leaving the sender to `message:new` arriving at the other participant:
- at a steady BENCH_CHAT_RATE messages per second, spread over random pairs (latency at a normal load);
- with every pair in a ping-pong loop for BENCH_DURATION seconds (the most messages per second).
"""
import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid

CLIENTS = int(os.environ.get("BENCH_CHAT_CLIENTS", "1000"))
RATE = int(os.environ.get("BENCH_CHAT_RATE", "50"))
DURATION = int(os.environ.get("BENCH_DURATION", "10"))


def setup(count):
    """Users, tokens and conversations for `count` clients (made once, reused by later runs)."""
    from casting import create_app
    from casting.auth import sessions
    from casting.kernel.extensions import db
    from casting.messaging import services
    from casting.kernel.requestid import current_client
    from casting.users.models import Role, User
    from casting.users.services import find_by_contact

    app = create_app()
    people = []
    with app.test_request_context(headers={"User-Agent": "bench"}):
        for n in range(count):
            email = f"chat-bench-{n}@example.in"
            user = find_by_contact(email=email)
            if user is None:
                user = User(full_name=f"Bench {n}", email=email,
                            role=Role.CASTING_DIRECTOR if n % 2 == 0 else Role.TALENT)
                db.session.add(user)
                db.session.flush()
            people.append({"id": user.id, "token": sessions.start(user, current_client())["access_token"]})
        db.session.commit()
        for first, second in zip(people[::2], people[1::2]):
            conversation, _ = services.start(db.session.get(User, first["id"]), [second["id"]])
            first["conversation_id"] = second["conversation_id"] = conversation.id
    return people


def _percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else float("nan")


class _Pair:
    def __init__(self, first, second):
        self.clients = (first, second)
        self.conversation_id = first.person["conversation_id"]


class _Client:
    def __init__(self, person, received):
        import socketio

        self.person = person
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("message:new", self._on_message, namespace="/chat")
        self.received = received
        self.peer = None

    async def _on_message(self, message):
        sent_at, mode = message["body"].split(" ", 1)
        self.received(time.perf_counter() - float(sent_at), mode, self)

    async def send(self, mode):
        await self.sio.emit("message:send", {"conversation_id": self.person["conversation_id"],
                                             "body": f"{time.perf_counter()} {mode}", "client_id": uuid.uuid4().hex},
                            namespace="/chat")


async def _run(base, people):
    latencies = {"steady": [], "loop": []}
    loop_state = {"on": False}

    def received(seconds, mode, client):
        latencies[mode].append(seconds)
        if mode == "loop" and loop_state["on"]:
            asyncio.get_running_loop().create_task(client.send("loop"))

    clients = [_Client(person, received) for person in people]
    gate = asyncio.Semaphore(50)

    async def connect(client):
        async with gate:
            await client.sio.connect(base, namespaces=["/chat"], auth={"token": client.person["token"]},
                                     transports=["websocket"], wait_timeout=30)

    started = time.perf_counter()
    await asyncio.gather(*(connect(client) for client in clients))
    connect_seconds = time.perf_counter() - started
    pairs = [_Pair(first, second) for first, second in zip(clients[::2], clients[1::2])]
    await asyncio.sleep(2)

    steady_sent, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < DURATION:
        if steady_sent < elapsed * RATE:
            await random.choice(pairs).clients[random.randint(0, 1)].send("steady")
            steady_sent += 1
        else:
            await asyncio.sleep(0.002)
    await asyncio.sleep(3)

    loop_state["on"] = True
    for pair in pairs:
        await pair.clients[0].send("loop")
    await asyncio.sleep(1)
    before, started = len(latencies["loop"]), time.perf_counter()
    await asyncio.sleep(DURATION)
    delivered, elapsed = len(latencies["loop"]) - before, time.perf_counter() - started
    loop_state["on"] = False
    await asyncio.sleep(2)
    await asyncio.gather(*(client.sio.disconnect() for client in clients))
    steady, loop = latencies["steady"], latencies["loop"]
    return {"clients": len(clients), "connect_s": connect_seconds, "steady_rate": RATE,
            "steady_sent": steady_sent, "steady_received": len(steady),
            "steady_p50_ms": _percentile(steady, 0.5), "steady_p99_ms": _percentile(steady, 0.99),
            "loop_pairs": len(pairs), "loop_msgs_per_s": delivered / elapsed,
            "loop_p50_ms": _percentile(loop, 0.5), "loop_p99_ms": _percentile(loop, 0.99),
            "loop_mean_ms": statistics.fmean(loop) * 1000 if loop else float("nan")}


def measure(base, people):
    return asyncio.run(_run(base, people))


def report(result):
    return (f"chat, {result['clients']} clients connected over WebSocket (in {result['connect_s']:.1f} s):\n"
            f"- steady {result['steady_rate']} msg/s: send -> other participant receives p50 "
            f"{result['steady_p50_ms']:.1f} ms, p99 {result['steady_p99_ms']:.1f} ms "
            f"({result['steady_received']} of {result['steady_sent']} received)\n"
            f"- {result['loop_pairs']} pairs in ping-pong: {result['loop_msgs_per_s']:.0f} messages/s delivered, "
            f"p50 {result['loop_p50_ms']:.1f} ms, p99 {result['loop_p99_ms']:.1f} ms")


if __name__ == "__main__" and sys.argv[1:2] == ["setup"]:
    print(json.dumps(setup(int(sys.argv[2]))))
