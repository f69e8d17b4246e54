"""The admin keeps sessions, CSRF protection and messages; the API ignores sessions."""

import re

import pytest
from django.core.management import call_command
from django.test import Client

from catalogue.tests.factories import ProductFactory

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

    product = ProductFactory(name="Mug")
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


class TestLoginLockout:
    """Password guessing at the admin login (django-axes): 3 failures here, per username and per address."""

    @pytest.fixture(autouse=True)
    def lockout(self, settings):
        settings.AXES_ENABLED = True  # off in the test settings, like throttling
        settings.AXES_FAILURE_LIMIT = 3

    @staticmethod
    def log_in(password: str, *, username: str = "boss", address: str = "192.0.2.1", **headers):
        client = Client(REMOTE_ADDR=address, **headers)
        return client.post("/admin/login/", {"username": username, "password": password, "next": "/admin/"})

    @staticmethod
    def assert_locked_out(response):
        assert response.status_code == 429
        assert b"too many login attempts" in response.content

    @staticmethod
    def let_the_lockout_pass():
        from axes.models import AccessAttempt
        from django.conf import settings
        from django.db.models import F

        AccessAttempt.objects.update(attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME)

    def test_wrong_passwords_up_to_the_limit_lock_out_even_the_right_one(self, staff):
        assert self.log_in("guess-1").status_code == 200  # the form again, with its error
        assert self.log_in("guess-2").status_code == 200
        self.assert_locked_out(self.log_in("guess-3"))
        self.assert_locked_out(self.log_in("pw-12345-long"))

    def test_the_right_password_works_again_after_the_cool_off(self, staff):
        for i in range(3):
            self.log_in(f"guess-{i}")
        self.let_the_lockout_pass()
        assert self.log_in("pw-12345-long").status_code == 302

    def test_a_success_before_the_limit_forgets_the_failures(self, staff):
        self.log_in("guess-1")
        self.log_in("guess-2")
        assert self.log_in("pw-12345-long").status_code == 302
        assert self.log_in("guess-3").status_code == 200
        assert self.log_in("guess-4").status_code == 200

    def test_guesses_from_many_addresses_lock_the_username_out(self, staff, django_user_model):
        django_user_model.objects.create_superuser(username="other", password="pw-67890-long")
        for i in range(3):
            assert self.log_in(f"guess-{i}", address=f"198.51.100.{i}").status_code in {200, 429}
        self.assert_locked_out(self.log_in("pw-12345-long", address="198.51.100.9"))
        # Another account, from an address that never failed, is not affected.
        assert self.log_in("pw-67890-long", username="other", address="203.0.113.1").status_code == 302

    def test_guesses_at_many_usernames_from_one_address_lock_the_address_out(self, staff):
        for i in range(3):
            self.log_in("guess", username=f"user-{i}")
        self.assert_locked_out(self.log_in("pw-12345-long"))
        assert self.log_in("pw-12345-long", address="192.0.2.2").status_code == 302  # the owner, elsewhere

    def test_a_client_reaching_the_app_directly_cannot_pick_its_address(self, staff, settings):
        settings.TRUSTED_PROXY_NETWORKS = ["10.0.0.0/8"]
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
        for i in range(3):
            self.log_in(f"guess-{i}", address="198.51.100.5", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
        self.assert_locked_out(self.log_in("pw-12345-long", address="198.51.100.5", HTTP_X_FORWARDED_FOR="203.0.113.9"))

    def test_behind_a_trusted_proxy_the_forwarded_client_is_locked_out(self, staff, settings, django_user_model):
        settings.TRUSTED_PROXY_NETWORKS = ["10.0.0.0/8"]
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
        for i in range(3):
            self.log_in(f"guess-{i}", address="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7")
        self.assert_locked_out(self.log_in("pw-12345-long", address="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7"))
        # Another client behind the same proxy, logging in to another account, is not.
        django_user_model.objects.create_superuser(username="other", password="pw-67890-long")
        other = self.log_in("pw-67890-long", username="other", address="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.8")
        assert other.status_code == 302
