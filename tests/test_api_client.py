"""The document as the frontend and mobile teams use it (issue 20): Redocly's recommended rules, a typed
TypeScript client (openapi-typescript) that type-checks a usage file (tsc), and a Prism mock server
started from the document that answers with its examples.

The npm tools are pinned in tools/api-client (package.json, package-lock.json) and installed here with
`npm ci` when missing; without node/npm on the machine these tests are skipped (CI has both).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest
import requests

from tests.test_chat_live import ROOT
from tests.test_embedded import _free_port

TOOLS = ROOT / "tools" / "api-client"
pytestmark = pytest.mark.skipif(shutil.which("npm") is None, reason="node and npm are needed")


def _npm(*args, timeout=300):
    return subprocess.run(["npm", *args], cwd=TOOLS, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"})


@pytest.fixture(scope="module")
def document(server_urls, tmp_path_factory):
    """The app's OpenAPI document, as a production deployment serves it, in tools/api-client."""
    from tests.conftest import make_config
    from casting import create_app

    app = create_app(make_config(server_urls, PUBLIC_BASE_URL="https://api.casting.in"))
    spec = app.test_client().get("/api/openapi.json").json
    if not (TOOLS / "node_modules" / ".package-lock.json").exists():
        installed = _npm("ci", "--no-audit", "--no-fund", "--loglevel=error", timeout=600)
        assert installed.returncode == 0, installed.stderr
    path = TOOLS / "openapi.json"  # the name .redocly.lint-ignore.yaml refers to
    path.write_text(json.dumps(spec, indent=1))
    yield spec
    path.unlink(missing_ok=True)


def test_redocly_recommended_rules_find_no_error_and_no_warning(document):
    linted = _npm("run", "-s", "lint", "--", "openapi.json", "--format=summary")
    output = linted.stdout + linted.stderr
    assert linted.returncode == 0 and "Woohoo! Your API description is valid" in output, output
    assert not re.search(r"(?i)\bwarnings?\b", output.split("Woohoo")[1]), output


def test_a_typed_client_generated_from_the_document_type_checks_a_usage_file(document):
    generated = _npm("run", "-s", "types", "--", "openapi.json")
    assert generated.returncode == 0, generated.stdout + generated.stderr
    checked = _npm("run", "-s", "typecheck")
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.fixture(scope="module")
def prism(document):
    port = _free_port()
    process = subprocess.Popen([str(TOOLS / "node_modules" / ".bin" / "prism"), "mock", "--host", "127.0.0.1",
                                "-p", str(port), "openapi.json"], cwd=TOOLS, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            requests.get(f"{url}/api/health", timeout=2)
            break
        except requests.ConnectionError:
            assert process.poll() is None and time.monotonic() < deadline, "Prism did not start"
            time.sleep(0.5)
    yield url
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(20)


def _json_example(response):
    media = response.get("content", {}).get("application/json", {})
    return media.get("example")


def test_a_prism_mock_server_answers_every_read_with_its_documented_example(document, prism):
    answered = 0
    for path, item in document["paths"].items():
        operation = item.get("get")
        success = (operation or {}).get("responses", {}).get("200")
        if not success or _json_example(success) is None:
            continue
        url = prism + re.sub(r"\{[^}]+\}", "1", path)
        if "{kind}" in path:
            url = prism + path.replace("{kind}", "skills")
        response = requests.get(url, headers={"Authorization": "Bearer token", "X-API-Key": "key"}, timeout=10)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        assert response.json() == _json_example(success), path
        answered += 1
    assert answered >= 15
    credentials = {"identifier": "asha@example.in", "password": "monsoon-kathak-audition"}
    signed_in = requests.post(f"{prism}/api/auth/login", json=credentials, timeout=10)
    assert signed_in.status_code == 200 and "access_token" in signed_in.json()
    refused = requests.post(f"{prism}/api/auth/login", json={"identifier": 7}, timeout=10)
    assert refused.status_code == 422
