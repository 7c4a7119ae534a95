"""Helpers shared by the tests."""
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url


def recreate_database(server_url, name):
    """Drop and create database `name` on the server of `server_url` (psycopg URL form)."""
    url = make_url(server_url).set(drivername="postgresql", database="postgres")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)
