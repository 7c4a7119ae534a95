"""`flask seed ...`, `flask users ...`, `flask keys ...`, `flask export ...`, `flask docs ...`, `flask worker`
and `flask up`.

Long work (seeding, PII rotation, exports) draws a progress bar on a terminal (stderr).
"""
import os
import signal
import subprocess  # nosec B404
import sys
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path

import click
from cryptography.fernet import Fernet
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from flask_migrate import upgrade
from sqlalchemy import func, select

from casting.auth import api_keys
from casting.kernel.embedded import attach_pending, is_pending
from casting.kernel.errors import with_catalogue
from casting.exports.services import export_lines
from casting.kernel.extensions import db
from casting.kernel.jobs import enqueue, run_worker
from casting.kernel.optional import MissingExtra, require
from casting.kernel.pii import rotate_all
from casting.auditions.models import Audition
from casting.auditions.repair import repair, repair_lost_work
from casting.auditions.seeding import seed_auditions
from casting.seeding import DEMO_PASSWORD, seed_demo
from casting.talents.cache import forget_lists
from casting.talents.models import Talent
from casting.talents.seeding import seed_talents, seed_vectors
from casting.users.models import Role
from casting.users.services import UserError, create_user

seed_cli = AppGroup("seed", help="Load demo data.")
keys_cli = AppGroup("keys", help="Manage PII encryption keys and service API keys.")
users_cli = AppGroup("users", help="Manage users.")
export_cli = AppGroup("export", help="Bulk exports (audited).")
jobs_cli = AppGroup("jobs", help="Background work: repair what the queues lost.")
docs_cli = AppGroup("docs", help="Write the generated parts of docs/.")
ERRORS_DOC = Path(__file__).resolve().parent.parent / "docs" / "errors.md"


@contextmanager
def _progress(label):
    """A `progress(done, total)` callback that draws a bar on stderr, made on its first call (when the
    total is known). Off a terminal click prints only the label, so logs and pipes stay clean."""
    with ExitStack() as stack:
        bars = []

        def advance(done, total):
            if not bars:
                bars.append(stack.enter_context(click.progressbar(
                    length=max(total, 1), label=label, file=sys.stderr, show_pos=True, show_eta=True)))
            bars[0].update(done)

        yield advance


def _aware_datetime(text):
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise click.BadParameter("an ISO 8601 time with its offset, such as 2026-11-24T10:00:00+05:30")
    return value


def _needs_extra(action):
    """Run `action`; a missing optional package becomes a one-line CLI error saying what to install."""
    try:
        return action()
    except MissingExtra as error:
        raise click.ClickException(str(error)) from error


@seed_cli.command("demo")
@click.option("--force", is_flag=True, help="Seed even in production mode (never the demo admin).")
def seed_demo_command(force):
    """Load realistic demo accounts (idempotent: running it again adds nothing)."""
    if current_app.config["APP_ENV"] == "production" and not force:
        raise click.ClickException("refusing to seed demo accounts in production (use --force)")
    added, total = _needs_extra(seed_demo)
    forget_lists()  # seeding writes past the services: no cached list, search or match outlives it
    click.echo(f"demo data: {added} accounts added, {total} in all; password {DEMO_PASSWORD!r}")


@seed_cli.command("talents")
@click.argument("count", type=click.IntRange(1, 5_000_000))
@click.option("--seed", default=2026, show_default=True, help="Random seed (same seed, same profiles).")
@click.option("--up-to", is_flag=True, help="Only add what is missing for COUNT profiles in all.")
@click.option("--vectors", is_flag=True, help="Also give every talent without one a generated EMBEDDING_DIM "
                                              "embedding (shaped like sentence embeddings) and rebuild the HNSW index.")
def seed_talents_command(count, seed, up_to, vectors):
    """Load COUNT realistic talent profiles quickly (COPY), for benchmarks and the frontend team."""
    if up_to:
        count -= db.session.scalar(select(func.count()).select_from(Talent))
        db.session.rollback()
    started = time.monotonic()
    if count > 0:
        with _progress("talent profiles") as progress:
            _needs_extra(lambda: seed_talents(count, seed, progress))
        forget_lists()  # seeding writes past the services: no cached list total outlives it
    click.echo(f"{max(count, 0)} talent profiles loaded in {time.monotonic() - started:.1f} s")
    if vectors:
        started = time.monotonic()
        with _progress("embeddings") as progress:
            added, build = seed_vectors(current_app.config["EMBEDDING_MODEL"], current_app.config["EMBEDDING_DIM"],
                                        seed, progress)
        forget_lists()
        if build is None:
            click.echo("every talent has an embedding already")
        else:
            click.echo(f"{added} embeddings added in {time.monotonic() - started - build:.1f} s; "
                       f"HNSW index built in {build:.1f} s")


@seed_cli.command("auditions")
@click.argument("count", type=click.IntRange(1, 1_000_000))
@click.option("--invites", default=50, show_default=True, type=click.IntRange(1, 500),
              help="Invitations per audition (random seeded talent).")
@click.option("--up-to", is_flag=True, help="Only add what is missing for COUNT auditions in all.")
def seed_auditions_command(count, invites, up_to):
    """Load COUNT auditions with slots and invitations over the demo productions, for benchmarks."""
    if up_to:
        count -= db.session.scalar(select(func.count()).select_from(Audition))
        db.session.rollback()
    started = time.monotonic()
    if count > 0:
        try:
            count = seed_auditions(count, invites)
        except RuntimeError as error:
            raise click.ClickException(str(error)) from error
    click.echo(f"{max(count, 0)} auditions loaded in {time.monotonic() - started:.1f} s")


@seed_cli.command("calls")
@click.argument("count", type=click.IntRange(0, 5_000_000))
@click.option("--submissions", default=0, type=click.IntRange(0, 1_000_000), show_default=True,
              help="Submissions in all to the demo call for Young Radha (from the seeded talent).")
@click.option("--represented", default=0, type=click.IntRange(0, 5_000_000), show_default=True,
              help="Make the first demo agent the agent of this many seeded talent.")
@click.option("--up-to", is_flag=True, help="Only add what is missing for COUNT calls in all.")
def seed_calls_command(count, submissions, represented, up_to):
    """Load COUNT open casting calls (on new roles of the demo's second casting director), for benchmarks."""
    from casting.calls.models import CastingCall
    from casting.calls.seeding import seed_calls

    if up_to:
        count -= db.session.scalar(select(func.count()).select_from(CastingCall))
        db.session.rollback()
    started = time.monotonic()
    added, sent = seed_calls(max(count, 0), submissions, represented)
    click.echo(f"{added} calls and {sent} submissions loaded in {time.monotonic() - started:.1f} s")


@users_cli.command("create-admin")
@click.option("--email", help="The admin's email.")
@click.option("--phone", help="The admin's phone (E.164 or a 10-digit Indian number).")
@click.option("--name", "full_name", required=True, help="The admin's full name.")
@click.password_option(help="The admin's password (prompted when not given).")
def create_admin_command(email, phone, full_name, password):
    """Create an admin account: the only way, besides another admin, to grant `admin`."""
    try:
        user = create_user(full_name, Role.ADMIN, password=password, email=email, phone=phone,
                           contacts_verified=True)
    except UserError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"admin created: id {user.id}")


@keys_cli.command("create-api-key")
@click.option("--name", required=True, help="What the key is for, e.g. matching-service.")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(api_keys.SCOPES))
def create_api_key_command(name, scopes):
    """Create a service API key; it is printed this once and stored only as a hash."""
    key, plaintext = api_keys.create(name, list(scopes))
    click.echo(f"api key {key.id} ({', '.join(key.scopes)}): {plaintext}")


@keys_cli.command("list-api-keys")
def list_api_keys_command():
    """List service API keys (never the keys themselves)."""
    for key in db.session.scalars(api_keys.listing()):
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        click.echo(f"{key.id}\t{key.prefix}\t{key.name}\t{','.join(key.scopes)}\t{state}")


@keys_cli.command("revoke-api-key")
@click.argument("key_id", type=int)
def revoke_api_key_command(key_id):
    """Revoke a service API key at once."""
    api_keys.revoke(key_id)
    click.echo(f"api key {key_id} revoked")


@keys_cli.command("generate")
def generate_key_command():
    """Print a new Fernet key (for PII_KEYS) or index key (for PII_INDEX_KEY)."""
    click.echo(Fernet.generate_key().decode())


@keys_cli.command("rotate-pii")
@click.option("--batch-size", default=500, show_default=True)
def rotate_pii_command(batch_size):
    """Re-encrypt all PII under the first key of PII_KEYS; then the older keys can be dropped."""
    with _progress("rows with PII") as progress:
        rotated = rotate_all(batch_size, progress)
    click.echo(f"re-encrypted {rotated} values under the newest key")


@export_cli.command("talents")
@click.argument("output", type=click.File("w", encoding="utf-8", lazy=True))
@click.option("--updated-since", type=_aware_datetime, help="Only talent changed at or after this ISO 8601 "
                                                            "time with offset (2026-11-24T10:00:00+05:30).")
@click.option("--embeddings", is_flag=True, help="Add each talent's stored embedding (or null).")
@click.option("--pii", is_flag=True, help="Add date of birth, email and phone (the export is audited either way).")
def export_talents_command(output, updated_since, embeddings, pii):
    """Write every live talent to OUTPUT as NDJSON (`-` for stdout), as GET /api/export/talents does."""
    written = 0
    with _progress("talents") as progress:
        for line in export_lines(pii, updated_since, embeddings, progress=progress):
            output.write(line)
            written += 1
    click.echo(f"{written} talents exported", err=True)


@docs_cli.command("errors")
@click.option("--check", is_flag=True, help="Write nothing; fail when docs/errors.md is not current.")
def docs_errors_command(check):
    """The error table of docs/errors.md, from the catalogue in casting/kernel/errors.py."""
    current = ERRORS_DOC.read_text(encoding="utf-8")
    written = with_catalogue(current)
    if check:
        if written != current:
            raise click.ClickException("docs/errors.md is not current: run `flask docs errors`")
        return
    ERRORS_DOC.write_text(written, encoding="utf-8")
    click.echo(f"wrote {ERRORS_DOC.name}")


@click.command("worker")
@with_appcontext
@click.option("--queues", default=None, help="Comma-separated queues, highest priority first.")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
def worker_command(queues, burst):
    """Run an RQ worker with the scheduler on the named queues (default: high, default, low)."""
    if is_pending(current_app.config["REDIS_URL"]):
        attach_pending()  # before RQ forks its scheduler and work horses
    names = queues.split(",") if queues else current_app.config["RQ_QUEUES"]
    if not burst:  # what a killed worker or a wiped Redis lost is found in PostgreSQL and done again
        enqueue("high", repair_lost_work)
    run_worker(names, burst=burst)


@jobs_cli.command("repair")
def repair_command():
    """Send invitations never messaged and plan the reminders Redis lost (booked slots), from PostgreSQL."""
    counts = repair()
    click.echo(f"{counts['invitations']} invitations messaged, {counts['reminders']} reminders planned or sent")


def _wait_until_up(url, process, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # nosec B310
                return response.status == 200
        except OSError:
            time.sleep(0.5)
    return False


@click.command("up")
@with_appcontext
@click.option("--port", default=lambda: int(os.environ.get("PORT", 5000)), help="The web port.")
def up_command(port):
    """Migrate, seed the demo data (development mode only), and run web and worker (the Procfile)."""
    _needs_extra(lambda: require("honcho", "flask up (it runs the Procfile with honcho)"))
    upgrade()
    if current_app.config["APP_ENV"] == "development":
        added, total = _needs_extra(seed_demo)
        click.echo(f"demo data ready: {total} accounts (password {DEMO_PASSWORD!r})")
    else:
        click.echo(f"{current_app.config['APP_ENV']} mode: no demo data (APP_ENV=development loads it)")
    urls = attach_pending() if is_pending(current_app.config["REDIS_URL"]) else {}  # web and worker share them
    bin_dir = os.path.dirname(sys.executable)
    env = {**os.environ, "DATABASE_URL": urls.get("DATABASE_URL", current_app.config["DATABASE_URL"]),
           "REDIS_URL": urls.get("REDIS_URL", current_app.config["REDIS_URL"]),
           "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    root = os.path.dirname(current_app.root_path)
    honcho = [sys.executable, "-m", "honcho", "start", "-d", root, "-f", os.path.join(root, "Procfile"),
              "-p", str(port), "web", "worker"]
    process = subprocess.Popen(honcho, env=env)  # nosec B603
    # A process manager stops us with SIGTERM: stop web and worker first, then leave (and let the
    # embedded servers stop with the last of us), instead of dying and orphaning them.
    signal.signal(signal.SIGTERM, lambda signum, frame: process.terminate())
    try:
        if _wait_until_up(f"http://127.0.0.1:{port}/api/health", process):
            click.secho(f"\n  API docs: http://localhost:{port}/api/docs\n", fg="green", bold=True)
        process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait()


def register_cli(app):
    for command in (seed_cli, users_cli, keys_cli, export_cli, jobs_cli, docs_cli, worker_command, up_command):
        app.cli.add_command(command)
