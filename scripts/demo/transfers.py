"""Uploads as a DCOR client sends them, in plain HTTP: a streamed multipart
form (resource_create, as ckanapi sends it) and presigned S3 PUTs."""
from __future__ import annotations

import io
import os
import pathlib
import xml.sax.saxutils
from typing import Any

import requests

CHUNK = 4 * 1024**2


class FileSlice:
    """A byte range of a file, read in chunks. No tell(): requests would
    then fall back to chunked encoding, which S3 refuses (411)."""

    def __init__(self, path: pathlib.Path, offset: int, length: int):
        self.handle = open(path, "rb")
        self.handle.seek(offset)
        self.left = length
        self.length = length

    def __len__(self) -> int:
        return self.length

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        data = self.handle.read(size)
        self.left -= len(data)
        return data

    def close(self) -> None:
        self.handle.close()


class MultipartForm:
    """A multipart/form-data body with one file, streamed from disk."""

    def __init__(self, fields: dict[str, str], file_field: str,
                 path: pathlib.Path):
        boundary = f"dcor-demo-{os.urandom(8).hex()}"
        self.content_type = f"multipart/form-data; boundary={boundary}"
        head = "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; '
            f'name="{name}"\r\n\r\n{value}\r\n'
            for name, value in fields.items())
        head += (f'--{boundary}\r\nContent-Disposition: form-data; '
                 f'name="{file_field}"; filename="{path.name}"\r\n'
                 'Content-Type: application/octet-stream\r\n\r\n')
        self.parts: list[Any] = [
            io.BytesIO(head.encode()),
            FileSlice(path, 0, path.stat().st_size),
            io.BytesIO(f"\r\n--{boundary}--\r\n".encode())]
        self.length = len(head.encode()) + path.stat().st_size \
            + len(f"\r\n--{boundary}--\r\n")

    def __len__(self) -> int:
        return self.length

    def read(self, size: int = -1) -> bytes:
        while self.parts:
            data = self.parts[0].read(size if size > 0 else CHUNK)
            if data:
                return data
            self.parts.pop(0).close()
        return b""


def put_presigned(urls: dict[str, Any], path: pathlib.Path) -> None:
    """What a DCOR client does with the presigned URLs, in plain HTTP."""
    size = path.stat().st_size
    if urls["complete_url"] is None:
        response = requests.put(urls["upload_urls"][0],
                                data=FileSlice(path, 0, size), timeout=600)
        response.raise_for_status()
        return
    parts = []
    part_size = urls["part_size"]
    for number, url in enumerate(urls["upload_urls"], start=1):
        offset = (number - 1) * part_size
        response = requests.put(url, data=FileSlice(
            path, offset, min(part_size, size - offset)), timeout=600)
        response.raise_for_status()
        parts.append((number, response.headers["ETag"]))
    body = "<CompleteMultipartUpload>" + "".join(
        f"<Part><PartNumber>{number}</PartNumber><ETag>"
        f"{xml.sax.saxutils.escape(etag)}</ETag></Part>"
        for number, etag in parts) + "</CompleteMultipartUpload>"
    response = requests.post(urls["complete_url"], data=body, timeout=600)
    response.raise_for_status()
