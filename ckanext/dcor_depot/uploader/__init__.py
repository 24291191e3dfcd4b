"""The browser uploader of the resource form (issue 25): Uppy sends a
file's parts straight to S3, signed part by part by the
resource_upload_multipart_* actions. Its npm sources, lock file and built
bundle are in ../assets/uploader/ (built by scripts/build-uploader.sh)."""
