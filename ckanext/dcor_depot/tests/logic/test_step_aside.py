"""Stepping aside for another plugin that provides the same action."""
import uuid

import pytest

from ..helpers import create_s3_resource, make_circle_and_user

# ckan.plugins is set here only: a module-level mark would win over it
pytestmark = [
    pytest.mark.ckan_config("ckan.plugins",
                            "dcor_depot dcor_depot_test_other_direct_upload"),
    pytest.mark.usefixtures("clean_db", "clean_queues", "with_plugins"),
]


def test_steps_aside_for_an_existing_action(app):
    """Another plugin (registered by entry point, as an older DCOR
    extension would be) that provides resource_upload_s3_urls keeps it;
    ours still checks incoming resources."""
    user, circle, dataset, token = make_circle_and_user()
    response = app.post("/api/3/action/resource_upload_s3_urls",
                        json={"organization_id": circle["id"],
                              "file_size": 10},
                        headers={"Authorization": token})
    assert response.status_code == 200, response.body
    assert response.json["result"] == {"answered_by": "the other plugin"}
    body = create_s3_resource(app, token, dataset["id"], str(uuid.uuid4()),
                              status=409)
    assert "was not issued by resource_upload_s3_urls" in str(body)
