"""What the doctor's measurements mean (pure): one line per check."""
from __future__ import annotations

import dataclasses
import re

OK, FAIL, SKIP = "ok", "FAIL", "skip"
MIB = 1024**2
# S3 servers refuse signatures 15 minutes off (AWS, radosgw); presigned
# URLs live shorter by the skew. Beyond this the clock needs fixing.
MAX_SKEW_SECONDS = 60
# the multipart form around the largest file needs a little more than it
FORM_ROOM = 64 * 1024


@dataclasses.dataclass(frozen=True)
class Result:
    check: str
    status: str
    message: str

    @property
    def line(self) -> str:
        return f"{self.status:<5} {self.check}: {self.message}"


def ok(check: str, message: str) -> Result:
    return Result(check, OK, message)


def fail(check: str, message: str) -> Result:
    return Result(check, FAIL, message)


def skip(check: str, message: str) -> Result:
    return Result(check, SKIP, message)


def exit_code(results: list[Result]) -> int:
    return 1 if any(r.status == FAIL for r in results) else 0


def summary(results: list[Result]) -> str:
    counts = {status: sum(r.status == status for r in results)
              for status in (OK, FAIL, SKIP)}
    return (f"{counts[OK]} ok, {counts[FAIL]} failed, {counts[SKIP]} "
            f"skipped of {len(results)} checks")


# S3 error codes and what to change
S3_KEY_ERRORS = {
    "InvalidAccessKeyId": "the server does not know the access key: check "
                          "dcor_object_store.access_key_id",
    "SignatureDoesNotMatch": "the secret key does not match the access key: "
                             "check dcor_object_store.secret_access_key",
    "AccessDenied": "the keys may not list buckets: give the user the "
                    "rights of bucket owner",
    "RequestTimeTooSkewed": "this machine's clock is too far off the S3 "
                            "server's: run NTP (chrony, systemd-timesyncd)",
}


def s3_error(code: str, detail: str) -> str:
    return S3_KEY_ERRORS.get(code, f"S3 answered {code or detail}")


def clock_skew(seconds: float) -> Result:
    text = f"{round(seconds):+d} s against the S3 server (±1 s)"
    if abs(seconds) <= MAX_SKEW_SECONDS:
        return ok("clock", text)
    return fail("clock", f"{text} (at most {MAX_SKEW_SECONDS} s): presigned "
                         "URLs expire early or are not valid yet, and beyond "
                         "15 min S3 refuses every request; run NTP (chrony, "
                         "systemd-timesyncd)")


def bucket_policy(bucket: str, untagged: int, tagged: int,
                  staging: int) -> Result:
    """Anonymous GETs of the probe objects: untagged 403, tagged 200,
    tagged below staging/ 403."""
    wrong = []
    if untagged != 403:
        wrong.append(f"an untagged object answered {untagged} (want 403): "
                     "private objects are readable by anyone")
    if staging != 403:
        wrong.append(f"a tagged staging upload answered {staging} (want "
                     "403)")
    if tagged != 200:
        wrong.append(f"an object tagged public=true answered {tagged} (want "
                     "200): public datasets are not downloadable")
    if not wrong:
        return ok("bucket policy", f"{bucket}: anonymous GET 403 untagged, "
                                   "200 tagged public=true")
    return fail("bucket policy", f"{bucket}: " + "; ".join(wrong) +
                ". The policy must allow anonymous s3:GetObject only on "
                "resource/, condensed/, preview/ with tag public=true "
                "(reapplied when a circle's bucket is created; "
                "delete the policy's extra statements)")


_SIZE = re.compile(r"^(\d+)([kKmMgG]?)$")
_UNITS = {"": 1, "k": 1024, "m": MIB, "g": 1024**3}


def nginx_size(text: str) -> int:
    """nginx's size syntax (100M, 1g, 512k, 1024) in bytes."""
    match = _SIZE.match(text.strip())
    if not match:
        raise ValueError(f"not an nginx size: {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def body_limit(limit_text: str, where: str, max_resource_mb: int) -> Result:
    """nginx's client_max_body_size against ckan.max_resource_size."""
    limit = nginx_size(limit_text)
    need = max_resource_mb * MIB + FORM_ROOM
    text = (f"client_max_body_size {limit_text} ({where}), "
            f"ckan.max_resource_size {max_resource_mb} MB")
    if limit == 0 or limit >= need:
        return ok("upload size", text)
    return fail("upload size", f"{text}: nginx refuses (413) uploads that "
                               f"CKAN accepts; set client_max_body_size "
                               f"{max_resource_mb + 1}M")
