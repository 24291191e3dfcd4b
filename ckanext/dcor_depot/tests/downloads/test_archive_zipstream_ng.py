"""zipstream-ng as the reference for the zip engine's arithmetic.

zipstream-ng (a maintained streaming zip writer) computes the exact size of
a stored zip before streaming it. It cannot serve the archive itself: it
cannot start at an offset (ranges), it always writes data descriptors (no
CRC ahead of time in the local header), and entries added from iterables
get the current local time, so its bytes are not a function of the members
(a resumed range could not match). The engine writes its own records; here
zipstream-ng checks the lengths and offsets the engine computes.
"""
from __future__ import annotations

import io
import zipfile

import pytest
from zipstream import ZIP_STORED, ZipStream

from ckanext.dcor_depot.downloads import archive_layout
from ckanext.dcor_depot.downloads.archive_layout import MANIFEST_PATH

from .archive_files import make_members, stream_bytes

DESCRIPTOR = 16  # bytes of a 32-bit data descriptor with its signature


@pytest.mark.parametrize("crc32_known", [False, True])
def test_zipstream_ng_agrees_on_length_and_offsets(tmp_path, crc32_known):
    members, store = make_members(tmp_path / "store", crc32=crc32_known)
    layout = archive_layout.build(members, "zip")
    reference = ZipStream(compress_type=ZIP_STORED, sized=True)
    for member in members:
        reference.add(store.open_member(member, 0), member.path,
                      size=member.size)
    reference.add(layout.manifest, MANIFEST_PATH)
    # zipstream-ng gives every member a descriptor; the engine gives one
    # to each member whose CRC-32 it was not told (never the manifest)
    ours_without = sum(m.crc32 is not None for m in layout.members)
    assert len(reference) == layout.length + DESCRIPTOR * ours_without

    theirs = b"".join(reference)
    assert len(theirs) == len(reference)
    ours = stream_bytes(layout, store)
    with zipfile.ZipFile(io.BytesIO(theirs)) as their_zip, \
            zipfile.ZipFile(io.BytesIO(ours)) as our_zip:
        their_infos, our_infos = their_zip.infolist(), our_zip.infolist()
        assert [i.filename for i in their_infos] == \
            [i.filename for i in our_infos]
        for theirs_info, ours_info in zip(their_infos, our_infos):
            assert their_zip.read(theirs_info) == our_zip.read(ours_info)
            assert theirs_info.CRC == ours_info.CRC
        if not crc32_known:  # same records, so the same offsets
            assert [i.header_offset for i in their_infos] == \
                [i.header_offset for i in our_infos]
