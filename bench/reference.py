"""The bare reference app: what Flask, gunicorn and gevent give before any of our code runs."""
from gevent import monkey; monkey.patch_all()  # noqa: E702 - first, as in wsgi.py

import os  # noqa: E402

from flask import Flask, jsonify  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402


def _psycopg(url):
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


app = Flask(__name__)
engine = create_engine(_psycopg(os.environ["DATABASE_URL"]), pool_pre_ping=True,
                       pool_size=int(os.environ.get("DB_POOL_SIZE", "5")),
                       max_overflow=int(os.environ.get("DB_MAX_OVERFLOW", "10")))


@app.get("/hello")
def hello():
    return jsonify(message="hello")


@app.get("/select1")
def select1():
    with engine.connect() as conn:
        return jsonify(value=conn.scalar(text("SELECT 1")))
