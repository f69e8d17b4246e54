"""The admin keeps sessions, CSRF protection and messages; the API ignores sessions."""

import re

import pytest
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser(username="boss", password="pw-12345-long")


def test_admin_login_needs_the_csrf_token_and_then_works(staff):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/admin/login/")
    assert page.status_code == 200
    assert "csrftoken" in page.cookies

    credentials = {"username": "boss", "password": "pw-12345-long", "next": "/admin/"}
    assert client.post("/admin/login/", credentials).status_code == 403

    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1).decode()
    response = client.post("/admin/login/", {**credentials, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200  # the session holds


def test_admin_messages_are_shown_after_a_change(staff, client):
    from catalogue.models import Product

    product = Product.objects.create(name="Mug")
    client.force_login(staff)
    form = {"name": "Cup", "description": "", "offers-TOTAL_FORMS": "0", "offers-INITIAL_FORMS": "0"}
    response = client.post(f"/admin/catalogue/product/{product.id}/change/", form, follow=True)
    assert response.status_code == 200
    assert b"was changed successfully" in response.content


def test_an_admin_session_does_not_authenticate_api_writes(staff, client):
    client.force_login(staff)
    response = client.post("/products", {"name": "Mug"}, content_type="application/json")
    assert response.status_code == 401
    assert "Set-Cookie" not in response.headers


def test_system_checks_pass():
    call_command("check", fail_level="WARNING")
