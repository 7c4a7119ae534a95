"""Migration discipline: up, down and up again on an empty database, and no drift from the models."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from casting.kernel.extensions import db
from tests.support import recreate_database


def test_upgrade_downgrade_upgrade_and_no_drift(make_app, server_urls):
    name = make_url(server_urls["server_database"]).database + "_migrations"
    app = make_app(DATABASE_URL=recreate_database(server_urls["server_database"], name))
    with app.app_context():
        upgrade()
        assert "users" in inspect(db.engine).get_table_names()
        downgrade(revision="base")
        with db.engine.connect() as conn:
            assert inspect(conn).get_table_names() == ["alembic_version"]
            extensions = set(conn.execute(text("SELECT extname FROM pg_extension")).scalars())
            assert not {"vector", "pg_trgm"} & extensions
        upgrade()
        with db.engine.connect() as conn:
            extensions = set(conn.execute(text("SELECT extname FROM pg_extension")).scalars())
            assert {"vector", "pg_trgm"} <= extensions
            assert compare_metadata(MigrationContext.configure(conn), db.metadata) == []


def test_a_server_without_pgvector_gets_an_error_that_says_how_to_get_it(make_app, server_urls, caplog):
    name = make_url(server_urls["server_database"]).database + "_noext"
    url = recreate_database(server_urls["server_database"], name)
    app = make_app(DATABASE_URL=url)
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("CREATE SCHEMA shadow"))
            conn.execute(text("CREATE VIEW shadow.pg_available_extensions AS SELECT * FROM "
                              "pg_catalog.pg_available_extensions WHERE name <> 'vector'"))
            conn.execute(text(f"ALTER DATABASE {name} SET search_path = shadow, pg_catalog, public"))
        db.engine.dispose()
        with pytest.raises(SystemExit):
            upgrade()
    assert "lacks the extension(s) the app needs: vector (pgvector: install" in caplog.text
    assert "pg_trgm" not in caplog.text.split("needs:")[1]
