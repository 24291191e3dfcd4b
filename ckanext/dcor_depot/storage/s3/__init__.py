"""I/O with the S3-compatible object store.

Callers import this package (`from ..storage import s3`) and use the names
below; the modules hold them by topic: `client` (client, buckets, errors),
`objects` (one object: head, tags, listing, copy, delete, open multipart
uploads), `upload` (verified uploads of local files), `multipart` (uploads that a
client sends part by part) and `transfer`
(presigned URLs, streaming an object into a verified local copy).
"""
from .client import (S3NotConfigured, S3Unreachable, bucket_for_circle,
                     bucket_names, check_reachable, client_for, ensure_bucket,
                     error_code, get_client)
from .objects import (PUBLIC_TAG, SHA256_TAG, abort_multipart_upload,
                      abort_multipart_uploads, copy_object, delete_object,
                      is_public, iter_objects, multipart_uploads_before,
                      object_digests, object_head, object_pages,
                      object_stream,
                      object_sha256, object_tags, open_multipart_uploads,
                      update_tags)
from .multipart import (NoSuchUpload, abort_upload, complete_upload,
                        presigned_part_url, start_upload, uploaded_parts)
from .transfer import (content_disposition, download_to_temp,
                       presigned_download_url, presigned_upload)
from .upload import (ByteCheck, ObjectConflict, StoredObject,
                     UploadVerificationError, compare_with_file, upload_file)

__all__ = [
    "S3NotConfigured", "S3Unreachable", "bucket_for_circle", "bucket_names",
    "check_reachable", "client_for", "ensure_bucket", "error_code", "get_client",
    "PUBLIC_TAG", "SHA256_TAG", "abort_multipart_upload",
    "abort_multipart_uploads", "copy_object", "delete_object", "is_public",
    "iter_objects", "multipart_uploads_before", "object_digests",
    "object_head", "object_pages", "object_sha256", "object_stream",
    "object_tags",
    "open_multipart_uploads", "update_tags", "content_disposition",
    "download_to_temp", "presigned_download_url", "presigned_upload",
    "ByteCheck", "ObjectConflict", "StoredObject", "UploadVerificationError",
    "compare_with_file", "upload_file", "NoSuchUpload", "abort_upload",
    "complete_upload", "presigned_part_url", "start_upload",
    "uploaded_parts",
]
