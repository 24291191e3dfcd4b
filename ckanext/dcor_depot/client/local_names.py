"""The names a folder's files get in a dataset.

The site makes every resource name safe with `naming.safe_name`
(NFC, no control, zero-width or separator characters, no leading dots,
no trailing spaces, at most 200 bytes), and the download and its
manifest use that form. The upload therefore names each file so before
anything is created: what it uploads, what its MANIFEST.sha256 lists and
what a download writes are then one name. Names the user should fix are
refused in one line instead: a control or line-breaking character, a
name with nothing usable, and two files that would become one name (or
one file on macOS and Windows).
"""
from __future__ import annotations

import os
import unicodedata

from .. import manifest, naming
from .errors import ClientError

NOTHING_DONE = "rename it; nothing was uploaded"


def dataset_names(names: list[str], folder: os.PathLike | str
                  ) -> dict[str, str]:
    """{local name: its name in the dataset} for the files of `folder`,
    or a ClientError naming the first problem."""
    result = {}
    owners = {naming.folded(manifest.MANIFEST_NAME):
              f"the dataset's {manifest.MANIFEST_NAME}"}
    for name in names:
        char = naming.first_line_break(name)
        if char is not None:
            raise ClientError(f"the file name {name!r} in {folder} holds "
                              f"the control character U+{ord(char):04X}; "
                              f"{NOTHING_DONE}")
        try:
            clean = naming.safe_name(name, "file name")
        except naming.UnsafeNameError as exc:
            raise ClientError(f"{exc} in {folder}; {NOTHING_DONE}") from None
        owner = owners.setdefault(naming.folded(clean), repr(name))
        if owner != repr(name):
            raise ClientError(f"{owner} and {name!r} in {folder} would be "
                              f"one file of the dataset ({clean!r}, and "
                              "names differing only in case are one file "
                              "on macOS and Windows); rename one of them; "
                              "nothing was uploaded")
        result[name] = clean
    return result


def renamed_note(name: str, clean: str) -> str:
    """What the user is told about a file stored under another name."""
    how = " (its Unicode NFC form)" \
        if unicodedata.normalize("NFC", name) == clean else ""
    return f"{name!r} is stored as {clean!r}{how}, as the site names it"
