"""The journeys people make, for Locust (run by `make load`, see bench/load.py; never against another host).

Talent sign in, read their invitations and answer them, look at roles for them, edit their profile,
upload a photo and chat; casting teams search and list talent, open profiles, run matches for their
role, invite in bulk, read who they invited and chat. Each person holds a Socket.IO connection while
active (chat messages go over it, acknowledged by the server) and thinks for LOAD_THINK_MIN to
LOAD_THINK_MAX seconds between two actions. The accounts come from LOAD_ACCOUNTS (bench/load.py makes it).
"""
import io
import itertools
import json
import os
import random
import time
import uuid
from pathlib import Path

import gevent
import socketio
from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser
from PIL import Image

ACCOUNTS = json.loads(Path(os.environ["LOAD_ACCOUNTS"]).read_text())
THINK = (float(os.environ.get("LOAD_THINK_MIN", "5")), float(os.environ.get("LOAD_THINK_MAX", "30")))
CASTING_SHARE = int(os.environ.get("LOAD_CASTING_PERCENT", "20"))
SETTLE = float(os.environ.get("LOAD_SETTLE_SECONDS", "15"))
CITIES = ["Mumbai", "Delhi", "Pune", "Chennai", "Bengaluru", "Kolkata", "Hyderabad"]
SKILLS = ["Acting", "Dancing", "Singing", "Modelling", "Voice Over", "Anchoring"]
_talent_accounts = itertools.cycle(ACCOUNTS["talents"])
_casting_accounts = itertools.cycle(ACCOUNTS["casting"])


def _photo():
    """A phone-camera-sized JPEG (1200 x 1600, noisy enough to weigh a few hundred kB) in a multipart body
    with its kind, made once: (body, Content-Type)."""
    noise = Image.effect_noise((1200, 1600), 40).convert("RGB")
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=85)
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nportfolio\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + out.getvalue() + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


PHOTO, PHOTO_TYPE = _photo()


@events.init.add_listener
def _count_the_steady_part_only(environment, **kwargs):
    """The statistics restart LOAD_SETTLE_SECONDS after the crowd is complete, not at that moment as Locust's
    --reset-stats does: the sign-ins and chat connects the ramp queued finish in between instead of being
    counted as the steady part's (at 300 people every sign-in over 200 ms ended within 2 s of the reset)."""
    environment.events.spawning_complete.add_listener(
        lambda user_count, **rest: gevent.spawn_later(SETTLE, environment.stats.reset_all))


class Person(FastHttpUser):
    """Signs in, holds a chat connection while active, and thinks between two actions. Someone whose
    sign-in failed tries again at their next action, as a person would, instead of acting signed out."""

    abstract = True
    wait_time = between(*THINK)
    account: dict
    token = None
    chat = None

    def on_start(self):
        self.sign_in()
        self.connect_chat()

    def get(self, path, name):
        return self.client.get(path, name=name, headers=self.auth)

    def send(self, method, path, name, **kwargs):
        return self.client.request(method, path, name=name, headers={**self.auth, **kwargs.pop("headers", {})},
                                   **kwargs)

    def signed_in(self):
        if self.token is None:
            self.sign_in()
        return self.token is not None

    def on_stop(self):
        if self.chat is not None:
            self.chat.disconnect()

    def sign_in(self):
        with self.client.post("/api/auth/login", name="/api/auth/login", catch_response=True, json={
                "identifier": self.account["email"], "password": ACCOUNTS["password"]}) as response:
            if response.status_code != 200:
                response.failure(f"sign-in: HTTP {response.status_code}")
                return
            self.token = response.json()["access_token"]
            self.auth = {"Authorization": f"Bearer {self.token}"}

    def _measure(self, name, call):
        """Time `call` as one request of type WS in Locust's statistics."""
        started, exception, result = time.perf_counter(), None, None
        try:
            result = call()
            if isinstance(result, dict) and "code" in result and "id" not in result:
                raise RuntimeError(f"{result['code']}: {result.get('message')}")
        except Exception as error:  # every failure is reported, none stops the user
            exception = error
        self.environment.events.request.fire(request_type="WS", name=name, response_length=0, context={},
                                             response_time=(time.perf_counter() - started) * 1000,
                                             exception=exception)
        return result

    def connect_chat(self):
        if self.token is None:
            return
        client = socketio.Client(reconnection=False)
        client.on("message:new", lambda message: None, namespace="/chat")

        def connect():
            client.connect(self.host, namespaces=["/chat"], auth={"token": self.token}, transports=["websocket"],
                           wait_timeout=10)

        self._measure("socket.io connect /chat", connect)
        self.chat = client if client.connected else None

    def send_chat(self):
        if self.chat is None or not self.chat.connected:
            self.connect_chat()
            if self.chat is None:
                return
        self._measure("message:send (acknowledged)", lambda: self.chat.call("message:send", {
            "conversation_id": self.account["conversation_id"], "body": random.choice(
                ["Namaste! Are you free on Friday?", "Sharing the script shortly.", "Thank you, see you there.",
                 "Can you send a self-tape by Monday?", "Yes, I can make it at 11."]),
            "client_id": uuid.uuid4().hex}, namespace="/chat", timeout=10))

    def read_chat(self):
        self.get("/api/conversations", "/api/conversations")
        self.get(f"/api/conversations/{self.account['conversation_id']}/messages", "/api/conversations/{id}/messages")

    # both kinds of people chat and sign in again now and then (Locust gives subclasses their parents' tasks)
    @task(3)
    def talk(self):
        if self.signed_in():
            self.read_chat()
            self.send_chat()

    @task(1)
    def sign_in_again(self):
        self.sign_in()


class Talent(Person):
    weight = 100 - CASTING_SHARE

    def on_start(self):
        self.account = next(_talent_accounts)
        self.photos = []
        super().on_start()

    def audition(self):
        return random.choice(self.account["auditions"])

    @task(5)
    def read_invitations(self):
        if self.signed_in():
            self.get("/api/auditions/", "/api/auditions/ (talent: invitations)")

    @task(3)
    def open_audition(self):
        if self.signed_in():
            self.get(f"/api/auditions/{self.audition()}", "/api/auditions/{id}")

    @task(2)
    def rsvp(self):
        if self.signed_in():
            self.send("POST", f"/api/auditions/{self.audition()}/rsvp", "/api/auditions/{id}/rsvp",
                      json={"response": random.choice(["accept", "decline"])})

    @task(2)
    def roles_for_me(self):
        if self.signed_in():
            self.get("/api/calls/for-me", "/api/calls/for-me")

    @task(2)
    def my_profile(self):
        if self.signed_in():
            self.get("/api/talents/me", "/api/talents/me")

    @task(2)
    def edit_profile(self):
        if self.signed_in():
            self.send("PUT", f"/api/talents/{self.account['talent_id']}", "/api/talents/{id} (edit)", json={
                "availability_status": random.choice(["available", "busy"]),
                "day_rate_inr": random.randrange(50, 400) * 100})

    @task(1)
    def upload_photo(self):
        if not self.signed_in():
            return
        talent = self.account["talent_id"]
        response = self.send("POST", f"/api/talents/{talent}/media", "/api/talents/{id}/media (photo)",
                             data=PHOTO, headers={"Content-Type": PHOTO_TYPE})
        if response.status_code == 201:
            self.photos.append(response.json()["id"])
        if len(self.photos) > 3:  # keep the portfolio under its cap, as people replace photos
            self.send("DELETE", f"/api/talents/{talent}/media/{self.photos.pop(0)}", "/api/talents/{id}/media/{id}")


class CastingTeam(Person):
    weight = CASTING_SHARE

    def on_start(self):
        self.account = next(_casting_accounts)
        super().on_start()

    def some_talent(self):
        return random.randint(1, ACCOUNTS["seeded_talents"])

    @task(5)
    def search(self):
        if self.signed_in():
            self.send("POST", "/api/talents/search", "/api/talents/search", json={
                "city": random.choice(CITIES), "skills": random.sample(SKILLS, random.randint(1, 2)),
                "age_min": random.randint(18, 40), "availability_status": "available"})

    @task(2)
    def list_talent(self):
        if self.signed_in():
            self.get(f"/api/talents/?city={random.choice(CITIES)}&skills={random.choice(SKILLS)}",
                     "/api/talents/?city&skills")

    @task(5)
    def open_profile(self):
        if self.signed_in():
            self.get(f"/api/talents/{self.some_talent()}", "/api/talents/{id}")

    @task(2)
    def matches(self):
        if self.signed_in():
            self.get(f"/api/productions/{self.account['production_id']}/roles/{self.account['role_id']}/matches",
                     "/api/productions/{id}/roles/{id}/matches")

    @task(1)
    def invite(self):
        if self.signed_in():
            self.send("POST", f"/api/auditions/{self.account['audition_id']}/invite", "/api/auditions/{id}/invite",
                      json={"talent_ids": random.sample(range(1, ACCOUNTS["seeded_talents"] + 1), 20)})

    @task(2)
    def invitations(self):
        if self.signed_in():
            self.get(f"/api/auditions/{self.account['audition_id']}/invitations", "/api/auditions/{id}/invitations")
