"""Glance 33 on the session's Keystone: images and snapshots as the 等保 evidence reads them (protection,
visibility, checksums), through openstacksdk against the real API."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from openstack import exceptions

from tests.components import missing
from tests.components.openstack import INSTALL, PASSWORD, OpenStackServers

pytestmark = pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")
DATA = b"egovops test image\n" * 64
"""A small raw image; Glance stores it in the fixture's file store and hashes it on upload."""


@pytest.fixture(scope="module")
def images(openstack_servers: OpenStackServers) -> Iterator[dict[str, Any]]:
    """A public protected image and a private snapshot of the admin project, removed afterwards (other
    tests read the cloud's images for evidence)."""
    if not openstack_servers.has_image:
        missing("Glance 33 venv", INSTALL)
    conn = openstack_servers.connect()
    public = conn.image.create_image(
        name="egovops-base",
        data=DATA,
        disk_format="raw",
        container_format="bare",
        visibility="public",
        is_protected=True,
    )
    snapshot = conn.image.create_image(
        name="egovops-snap",
        data=DATA[:512],
        disk_format="raw",
        container_format="bare",
        visibility="private",
        properties={"image_type": "snapshot"},
    )
    yield {"public": public, "snapshot": snapshot}
    conn.image.update_image(public.id, is_protected=False)
    for image in (public, snapshot):
        conn.image.delete_image(image.id)
    conn.close()


def test_upload_records_checksums(images: dict[str, Any], admin: Any) -> None:
    listed = {i.name: i for i in admin.image.images()}
    base = listed["egovops-base"]
    assert base.status == "active"
    assert base.size == len(DATA)
    assert base.checksum == hashlib.md5(DATA).hexdigest()  # Glance's legacy checksum
    assert (base.hash_algo, base.hash_value) == ("sha512", hashlib.sha512(DATA).hexdigest())
    assert admin.image.download_image(base).content == DATA


def test_protected_image_cannot_be_deleted(images: dict[str, Any], admin: Any) -> None:
    public = images["public"]
    with pytest.raises(exceptions.ForbiddenException):
        admin.image.delete_image(public)
    assert admin.image.get_image(public.id).is_protected is True


def test_snapshot_type_and_visibility_filters(images: dict[str, Any], admin: Any) -> None:
    snapshot = admin.image.get_image(images["snapshot"].id)
    assert (snapshot.visibility, snapshot.is_protected) == ("private", False)
    assert snapshot.properties["image_type"] == "snapshot"
    public = {i.id for i in admin.image.images(visibility="public")}
    private = {i.id for i in admin.image.images(visibility="private")}
    assert images["public"].id in public and images["snapshot"].id not in public
    assert images["snapshot"].id in private and images["public"].id not in private


def test_another_project_sees_public_images_only(
    images: dict[str, Any], admin: Any, openstack_servers: OpenStackServers
) -> None:
    """A tenant's member sees the shared base image, never the admin project's snapshot."""
    project = admin.identity.create_project(name="images-tenant", domain_id="default")
    user = admin.identity.create_user(name="images-member", password=PASSWORD, domain_id="default")
    admin.identity.assign_project_role_to_user(project, user, admin.identity.find_role("member"))
    try:
        member = admin.connect_as(
            username=user.name,
            password=PASSWORD,
            project_id=project.id,
            user_domain_id="default",
        )
        seen = {i.id for i in member.image.images()}
        assert images["public"].id in seen
        assert images["snapshot"].id not in seen
        with pytest.raises(exceptions.NotFoundException):
            member.image.get_image(images["snapshot"].id)
        member.close()
    finally:
        admin.identity.delete_user(user)
        admin.identity.delete_project(project)
