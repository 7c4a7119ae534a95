"""Multipart uploads, one client-visible flow on both stores.

S3 (`S3_BUCKET`): a presigned multipart upload; the client PUTs each part straight to S3 and the API
never touches the bytes; listing and completing ask S3. Disk (development): the part URLs point at
`PUT /api/tapes/{id}/parts/{number}`, signed and expiring like S3's, which writes the part under
`MEDIA_ROOT/uploads/`; completing joins them. Either way a part answers with its `ETag`, and listing
the parts received is how a client resumes after a dropped connection.
"""
import hashlib
import hmac
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from flask import current_app

from casting.media import file_storage as storage, S3Storage
from casting.kernel.web import public_url

COPY_CHUNK = 1024 * 1024


class DiskUploads:
    def __init__(self, files, secret, ttl):
        self.files = files
        self.ttl = ttl
        self._secret = hashlib.sha256(f"tape-part:{secret}".encode()).digest()

    def _parts_dir(self, tape):
        return self.files.path(f"uploads/{tape.id}")

    def start(self, tape, content_type):
        return None

    def signature(self, tape_id, number, expires):
        return hmac.new(self._secret, f"{tape_id}:{number}:{expires}".encode(), hashlib.sha256).hexdigest()

    def part_url(self, tape, number):
        expires = int(time.time()) + self.ttl
        return public_url("tape_parts.part", tape_id=tape.id, number=number, expires=expires,
                          signature=self.signature(tape.id, number, expires))

    def verify(self, tape_id, number, expires, signature):
        expected = self.signature(tape_id, number, expires).encode()
        return expires >= time.time() and hmac.compare_digest(expected, signature.encode())

    def write_part(self, tape, number, stream, limit):
        """Write one part from `stream` (OverflowError past `limit` bytes): {number, size, etag (MD5, as S3's)}."""
        folder = self._parts_dir(tape)
        folder.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.md5(usedforsecurity=False), 0
        with tempfile.NamedTemporaryFile(dir=folder, delete=False) as temporary:
            try:
                while chunk := stream.read(COPY_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise OverflowError
                    digest.update(chunk)
                    temporary.write(chunk)
            except BaseException:
                os.unlink(temporary.name)
                raise
        etag = digest.hexdigest()
        for old in folder.glob(f"{number:05d}.*"):
            old.unlink(missing_ok=True)
        os.replace(temporary.name, folder / f"{number:05d}.{etag}")
        return {"number": number, "size": size, "etag": etag}

    def parts(self, tape):
        folder = self._parts_dir(tape)
        if not folder.is_dir():
            return []
        found = []
        for path in folder.iterdir():
            number, _, etag = path.name.partition(".")
            if number.isdigit() and len(etag) == 32:
                found.append({"number": int(number), "size": path.stat().st_size, "etag": etag})
        return sorted(found, key=lambda part: part["number"])

    def complete(self, tape, parts):
        """Nothing to do here: the worker joins the parts (a gigabyte's copy is no work for a request)."""

    def _join(self, tape):
        target = self.files.path(tape.upload_key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as joined:
            for part in self.parts(tape):
                with open(self._parts_dir(tape) / f"{part['number']:05d}.{part['etag']}", "rb") as source:
                    shutil.copyfileobj(source, joined, COPY_CHUNK)
        os.replace(joined.name, target)
        return target

    def abort(self, tape):
        shutil.rmtree(self._parts_dir(tape), ignore_errors=True)

    @contextmanager
    def local_copy(self, tape):
        path = self.files.path(tape.upload_key)
        yield path if path.is_file() else self._join(tape)


class S3Uploads:
    def __init__(self, files, ttl):
        self.files = files
        self.client, self.bucket = files.client, files.bucket
        self.ttl = ttl

    def start(self, tape, content_type):
        return self.client.create_multipart_upload(Bucket=self.bucket, Key=tape.upload_key,
                                                   ContentType=content_type)["UploadId"]

    def part_url(self, tape, number):
        return self.client.generate_presigned_url("upload_part", Params={
            "Bucket": self.bucket, "Key": tape.upload_key, "UploadId": tape.upload_id, "PartNumber": number},
            ExpiresIn=self.ttl)

    def parts(self, tape):
        found = []
        paginator = self.client.get_paginator("list_parts")
        for page in paginator.paginate(Bucket=self.bucket, Key=tape.upload_key, UploadId=tape.upload_id):
            found.extend({"number": part["PartNumber"], "size": part["Size"], "etag": part["ETag"].strip('"')}
                         for part in page.get("Parts", []))
        return sorted(found, key=lambda part: part["number"])

    def complete(self, tape, parts):
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=tape.upload_key, UploadId=tape.upload_id,
            MultipartUpload={"Parts": [{"PartNumber": part["number"], "ETag": f'"{part["etag"]}"'}
                                       for part in parts]})

    def abort(self, tape):
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=tape.upload_key, UploadId=tape.upload_id)
        except self.client.exceptions.NoSuchUpload:
            pass

    @contextmanager
    def local_copy(self, tape):
        with tempfile.TemporaryDirectory(prefix="tape-") as folder:
            path = Path(folder) / "upload"
            self.client.download_file(self.bucket, tape.upload_key, str(path))
            yield path


def uploads():
    """The upload flow for the app's storage."""
    files = storage()
    ttl = current_app.config["MEDIA_URL_TTL"]
    if isinstance(files, S3Storage):
        return S3Uploads(files, ttl)
    return DiskUploads(files, current_app.config["SECRET_KEY"], ttl)
