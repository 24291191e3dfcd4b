"""The site's circles and their buckets."""
from __future__ import annotations

import ckan.model as model

from ..storage import s3


def circle_buckets() -> list[str]:
    """The bucket of every circle in the database, deleted ones included
    (their buckets may still hold objects). A site has few circles."""
    rows = model.Session.query(model.Group.id).filter(
        model.Group.is_organization.is_(True)).order_by(model.Group.id)
    return [s3.bucket_for_circle(row.id) for row in rows]
