"""Where uploaded files live: S3 (boto3, presigned URLs) when `S3_BUCKET` is set, local disk otherwise.

Both hand out expiring URLs. A URL is made once per half-TTL window and reused, so a list of talent
is not re-signed on every request, and any URL handed out stays valid for at least half the TTL.
"""
import hashlib
import hmac
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from flask import current_app, redirect, send_file

from casting.kernel.errors import ApiError, Codes
from casting.kernel.web import public_url

from casting.kernel.optional import require

log = logging.getLogger(__name__)


class Storage:
    """The interface: save bytes under a key, delete keys, hand out an expiring URL for a key."""

    def __init__(self, ttl):
        self.ttl = ttl
        self._window = None
        self._urls = {}

    def save(self, key, data, content_type):
        raise NotImplementedError

    def save_file(self, key, path, content_type):
        """Store the file at `path` under `key` (a video: streamed, never read whole into memory)."""
        raise NotImplementedError

    def delete(self, *keys):
        raise NotImplementedError

    def _sign(self, key, window_start):
        raise NotImplementedError

    def url(self, key):
        """An expiring URL for `key`, valid for at least ttl/2 from now."""
        half = self.ttl // 2
        window = int(time.time()) // half
        if window != self._window:
            self._window, self._urls = window, {}
        if key not in self._urls:
            self._urls[key] = self._sign(key, window * half)
        return self._urls[key]

    def forget(self, *keys):
        """Best-effort delete for clean-up paths: a failure is logged, never raised."""
        try:
            self.delete(*keys)
        except Exception:
            log.exception("could not delete stored files", extra={"keys": list(keys)})


class DiskStorage(Storage):
    """Files under MEDIA_ROOT, served by `/api/media/<key>` with an HMAC-signed expiry."""

    def __init__(self, root, secret, ttl):
        super().__init__(ttl)
        self.root = Path(root)
        self._secret = hashlib.sha256(f"media-url:{secret}".encode()).digest()

    def path(self, key):
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError("key escapes the media root")
        return path

    def save(self, key, data, content_type):
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as temporary:
            temporary.write(data)
        os.chmod(temporary.name, 0o644)  # images are public by link: a front server may serve them
        os.replace(temporary.name, path)

    def save_file(self, key, path, content_type):
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as temporary:
            with open(path, "rb") as source:
                shutil.copyfileobj(source, temporary, 1024 * 1024)
        os.chmod(temporary.name, 0o644)
        os.replace(temporary.name, target)

    def delete(self, *keys):
        for key in keys:
            self.path(key).unlink(missing_ok=True)

    def signature(self, key, expires):
        return hmac.new(self._secret, f"{key}:{expires}".encode(), hashlib.sha256).hexdigest()

    def _sign(self, key, window_start):
        expires = window_start + self.ttl
        return public_url("media.file", key=key, expires=expires, signature=self.signature(key, expires))

    def verify(self, key, expires, signature):
        expected = self.signature(key, expires).encode()
        return expires >= time.time() and hmac.compare_digest(expected, signature.encode())


class S3Storage(Storage):
    """Objects in one bucket, private, read through presigned GET URLs."""

    def __init__(self, bucket, client, ttl):
        super().__init__(ttl)
        self.bucket = bucket
        self.client = client

    def save(self, key, data, content_type):
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type,
                               CacheControl="private, max-age=86400")

    def save_file(self, key, path, content_type):
        self.client.upload_file(str(path), self.bucket, key, ExtraArgs={
            "ContentType": content_type, "CacheControl": "private, max-age=86400"})

    def delete(self, *keys):
        if keys:
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in keys]})

    def _sign(self, key, window_start):
        return self.client.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": key},
                                                  ExpiresIn=self.ttl)


def _build(config):
    if config["S3_BUCKET"]:
        boto3 = require("boto3", "S3 storage (S3_BUCKET)")
        from botocore.config import Config as BotoConfig

        client = boto3.client("s3", region_name=config["S3_REGION"], endpoint_url=config["S3_ENDPOINT_URL"],
                              config=BotoConfig(signature_version="s3v4", retries={"mode": "standard"}))
        return S3Storage(config["S3_BUCKET"], client, config["MEDIA_URL_TTL"])
    return DiskStorage(config["MEDIA_ROOT"], config["SECRET_KEY"], config["MEDIA_URL_TTL"])


def storage():
    """The app's storage, made on first use (after the fork, so each worker has its own client)."""
    extensions = current_app.extensions
    if "storage" not in extensions:
        extensions["storage"] = _build(current_app.config)
    return extensions["storage"]


def serve(key, max_age=0, mimetype=None, download_name=None, conditional=False):
    """A stored file as the response: from disk, private to the browser (no shared cache keeps it), or with
    S3 a redirect to a short-lived link. With `download_name` it is a download that no browser sniffs or
    runs (`nosniff`, a sandboxing CSP). 404 when the disk holds no such file."""
    files = storage()
    if not isinstance(files, DiskStorage):
        return redirect(files.url(key))
    path = files.path(key)
    if not path.is_file():
        raise ApiError(Codes.NOT_FOUND)
    response = send_file(path, mimetype=mimetype, as_attachment=download_name is not None,
                         download_name=download_name, max_age=max_age, conditional=conditional)
    if download_name is not None:
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = "sandbox"
    response.cache_control.public = False
    response.cache_control.private = True
    return response
