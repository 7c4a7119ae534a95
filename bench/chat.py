"""Chat under load: BENCH_CHAT_CLIENTS Socket.IO clients (1,000 by default) connected at once, in pairs.

`python -m bench.chat setup N` (run with the service's environment) makes N users, a signed-in
session and access token for each, and one conversation per pair; it prints them as JSON.
`measure(base, people, cpu)` then runs three phases against the service and reports each:

- connect: every client connects over WebSocket at once (how long until all are in);
- steady: BENCH_CHAT_RATE messages per second (200 by default) for BENCH_DURATION seconds, spread
  over random pairs: latency from `message:send` leaving the sender to `message:new` arriving at
  the other participant;
- burst: one client of every pair sends BENCH_CHAT_BURST messages (5) to its peer, all at once
  (1,000 clients: 500 pairs x 5 = 2,500 messages); a client whose ack is the busy envelope waits
  the ack's `retry_after` and sends the same `client_id` again, as a client should.

For each phase: messages/s, p50 and p99 (send -> delivered), acknowledged (an ack with the message),
delivered (distinct messages that reached the peer), lost (acknowledged but never delivered) and
the service's CPU per message (user + system seconds of the gunicorn master and workers, from
`cpu()`, over the phase, divided by the messages stored in it).
"""
import asyncio
import json
import os
import random
import sys
import time
import uuid

CLIENTS = int(os.environ.get("BENCH_CHAT_CLIENTS", "1000"))
RATE = int(os.environ.get("BENCH_CHAT_RATE", "200"))
BURST = int(os.environ.get("BENCH_CHAT_BURST", "5"))
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
ACK_TIMEOUT = 10
SETTLE = 3  # seconds to wait after a phase for the last deliveries
IDLE = 3  # seconds with every client connected and silent, before the steady phase


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


class _Phase:
    """What one phase sent, had acknowledged and saw delivered."""

    def __init__(self, name):
        self.name = name
        self.sent = {}  # client_id -> when it first left the sender
        self.acked = {}  # client_id -> message id
        self.refused = {}  # client_id -> the last error code acked for it
        self.retried = 0
        self.delivered = {}  # client_id -> send -> delivery seconds
        self.last_delivery = self.last_ack = 0.0
        self.started = time.perf_counter()

    def result(self, cpu_seconds):
        delivered = list(self.delivered.values())
        lost = [key for key in self.acked if key not in self.delivered]
        span = max(self.last_delivery - self.started, 1e-9)
        return {"phase": self.name, "sent": len(self.sent), "acknowledged": len(self.acked),
                "refused": len(set(self.refused) - set(self.acked)), "retried": self.retried,
                "delivered": len(delivered), "lost": len(lost), "msgs_per_s": len(delivered) / span,
                "p50_ms": _percentile(delivered, 0.5), "p99_ms": _percentile(delivered, 0.99),
                "all_acked_s": self.last_ack - self.started if self.acked else float("nan"),
                "all_delivered_s": span if delivered else float("nan"),
                "cpu_ms_per_msg": cpu_seconds * 1000 / max(len(self.acked), 1)}


class _Client:
    def __init__(self, person, phases):
        self.person = person
        self.phases = phases
        self.sio = None
        self.refusals = 0

    async def connect(self, base):
        """Connect; a refused connection (busy: `MESSAGE_009`) is tried again after a pause, as a client should."""
        import socketio

        while True:
            self.sio = socketio.AsyncClient(reconnection=False)
            self.sio.on("message:new", self._on_message, namespace="/chat")
            try:
                return await self.sio.connect(base, namespaces=["/chat"], auth={"token": self.person["token"]},
                                              transports=["websocket"], wait_timeout=30)
            except socketio.exceptions.ConnectionError:
                self.refusals += 1
                if self.refusals > 20:
                    raise
                await asyncio.sleep(0.5 + random.random())  # nosec B311 - jitter

    async def _on_message(self, message):
        phase_name, _, client_id = (message.get("body") or "").partition(" ")
        phase = self.phases.get(phase_name)
        if phase is not None and client_id in phase.sent and client_id not in phase.delivered:
            now = time.perf_counter()
            phase.delivered[client_id] = now - phase.sent[client_id]
            phase.last_delivery = now

    async def send(self, phase):
        """Send one message until it is acknowledged, refused for good, or its ack times out."""
        client_id = uuid.uuid4().hex
        payload = {"conversation_id": self.person["conversation_id"], "client_id": client_id,
                   "body": f"{phase.name} {client_id}"}
        phase.sent[client_id] = time.perf_counter()
        while True:
            try:
                ack = await self.sio.call("message:send", payload, namespace="/chat", timeout=ACK_TIMEOUT)
            except Exception:  # a timed-out ack: the client cannot tell whether it was stored
                phase.refused[client_id] = "timeout"
                return
            if "code" not in ack:
                phase.acked[client_id] = ack["id"]
                phase.last_ack = time.perf_counter()
                return
            phase.refused[client_id] = ack["code"]
            retry_after = (ack.get("details") or {}).get("retry_after")
            if retry_after is None or time.perf_counter() - phase.sent[client_id] > ACK_TIMEOUT:
                return
            phase.retried += 1
            await asyncio.sleep(retry_after * (0.5 + random.random()))  # nosec B311 - jitter


async def _run(base, people, cpu):
    phases = {}
    clients = [_Client(person, phases) for person in people]
    cpu_before = cpu()
    started = time.perf_counter()
    await asyncio.gather(*(client.connect(base) for client in clients))
    connect = {"clients": len(clients), "connect_s": time.perf_counter() - started,
               "connect_cpu_ms_per_client": (cpu() - cpu_before) * 1000 / len(clients),
               "refusals": sum(client.refusals for client in clients)}
    pairs = list(zip(clients[::2], clients[1::2]))
    idle_before, idle_started = cpu(), time.perf_counter()
    await asyncio.sleep(IDLE)  # every client connected and silent: what the service spends meanwhile
    connect["idle_cpu_ms_per_s"] = (cpu() - idle_before) * 1000 / (time.perf_counter() - idle_started)

    steady = phases["steady"] = _Phase("steady")
    cpu_before, sends, count = cpu(), [], 0
    while (elapsed := time.perf_counter() - steady.started) < DURATION:
        if count < elapsed * RATE:
            sender = random.choice(pairs)[random.randint(0, 1)]  # nosec B311 - load, not secrets
            sends.append(asyncio.get_running_loop().create_task(sender.send(steady)))
            count += 1
        else:
            await asyncio.sleep(0.001)
    await asyncio.gather(*sends)
    await asyncio.sleep(SETTLE)
    results = [steady.result(cpu() - cpu_before)]

    burst = phases["burst"] = _Phase("burst")
    cpu_before = cpu()
    await asyncio.gather(*(first.send(burst) for first, _ in pairs for _ in range(BURST)))
    deadline = time.perf_counter() + ACK_TIMEOUT
    while len(burst.delivered) < len(burst.acked) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    results.append(burst.result(cpu() - cpu_before))
    await asyncio.gather(*(client.sio.disconnect() for client in clients))
    return {"connect": connect, "phases": results, "rate": RATE, "burst_each": BURST}


def measure(base, people, cpu=lambda: 0.0):
    return asyncio.run(_run(base, people, cpu))


def report(result):
    connect = result["connect"]
    lines = [f"chat: {connect['clients']} clients connected over WebSocket in {connect['connect_s']:.2f} s "
             f"({connect['connect_cpu_ms_per_client']:.1f} ms CPU each; {connect['refusals']} connects refused "
             f"busy and tried again); connected and silent, the service spent {connect['idle_cpu_ms_per_s']:.0f} ms "
             "of CPU a second (in every phase's CPU per message too)",
             "| phase | sent | msg/s | p50 ms | p99 ms | acknowledged | refused | retried | delivered | lost | "
             "all acked s | all delivered s | CPU ms/msg |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    names = {"steady": f"steady {result['rate']} msg/s",
             "burst": f"burst, {result['burst_each']} from one client of each pair at once"}
    for phase in result["phases"]:
        lines.append(f"| {names[phase['phase']]} | {phase['sent']} | {phase['msgs_per_s']:.0f} | "
                     f"{phase['p50_ms']:.1f} | {phase['p99_ms']:.1f} | {phase['acknowledged']} | {phase['refused']} | "
                     f"{phase['retried']} | {phase['delivered']} | {phase['lost']} | {phase['all_acked_s']:.2f} | "
                     f"{phase['all_delivered_s']:.2f} | {phase['cpu_ms_per_msg']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__" and sys.argv[1:2] == ["setup"]:
    print(json.dumps(setup(int(sys.argv[2]))))
