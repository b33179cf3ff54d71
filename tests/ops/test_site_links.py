"""``/`` and the admin's "View site" link lead somewhere, never to a 404."""

from __future__ import annotations

from unittest import mock

import pytest
from django.contrib import admin

from b2s.urls import admin_site_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client, django_user_model):
    client.force_login(django_user_model.objects.create(username="root", is_staff=True, is_superuser=True))
    return client


def test_the_root_sends_an_anonymous_visitor_to_the_admin_login(client):
    response = client.get("/")
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    landed = client.get("/", follow=True)
    assert landed.redirect_chain == [("/admin/", 302), ("/admin/login/?next=/admin/", 302)]
    assert landed.status_code == 200


def test_the_root_sends_staff_to_the_admin(superuser_client):
    response = superuser_client.get("/", follow=True)
    assert response.redirect_chain == [("/admin/", 302)]
    assert response.status_code == 200


def test_view_site_links_the_sandbox_page_in_the_demo(superuser_client, salesforce_sandbox, settings):
    settings.SALESFORCE = {
        **settings.SALESFORCE,
        "SANDBOX": True,
        "LOGIN_URL": salesforce_sandbox.url,
        "CA_BUNDLE": salesforce_sandbox.ca_path,
    }
    with mock.patch.object(admin.site, "site_url", admin_site_url(sandbox=True)):
        page = superuser_client.get("/admin/").content.decode()
        assert '<a href="/sandbox/">View site</a>' in page
        assert superuser_client.get("/sandbox/").status_code == 200


def test_view_site_is_hidden_against_a_real_org(superuser_client):
    assert admin_site_url(sandbox=False) is None
    with mock.patch.object(admin.site, "site_url", admin_site_url(sandbox=False)):
        page = superuser_client.get("/admin/").content.decode()
    assert "View site" not in page
    assert "Log out" in page  # the same header, without the link
