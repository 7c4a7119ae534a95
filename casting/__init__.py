"""The casting platform API. `create_app` (in `casting.app`) builds the Flask app.

The package itself imports nothing heavy, so a process can use `casting.kernel.embedded` (the gunicorn
master does) without loading Flask, Redis or metrics before gunicorn forks its gevent workers.
"""


def __getattr__(name):
    if name == "create_app":
        from casting.app import create_app

        return create_app
    raise AttributeError(f"module 'casting' has no attribute {name!r}")
