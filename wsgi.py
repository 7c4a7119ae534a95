from gevent import monkey; monkey.patch_all()  # noqa: E702 - must run before any other import

from casting import create_app  # noqa: E402

app = create_app()
