"""Middleware that only the admin needs runs only for the admin.

Sessions, CSRF, the logged-in user and messages serve the admin's HTML pages. The API
authenticates with tokens and has no cookies, so for its requests these four layers are pure
cost (about a tenth of a cached-offers request). `AdminOnlyMiddleware` sits where they stood in
MIDDLEWARE, builds them in their usual order around the rest of the stack, and sends a request
through them only when its path is under the admin's.
"""

from functools import cached_property

from django.conf import settings
from django.core.handlers.exception import convert_exception_to_response
from django.urls import reverse
from django.utils.module_loading import import_string


class AdminOnlyMiddleware:
    sync_capable = True
    async_capable = False

    def __init__(self, get_response):
        self.get_response = get_response
        self._view_hooks = []
        handler = get_response
        for path in reversed(settings.ADMIN_ONLY_MIDDLEWARE):
            instance = import_string(path)(handler)
            # Django's handler calls process_view hooks of MIDDLEWARE entries only; CSRF
            # protection lives in one, so this class forwards them for admin requests.
            if hasattr(instance, "process_view"):
                self._view_hooks.insert(0, instance.process_view)
            handler = convert_exception_to_response(instance)
        self.admin_handler = handler

    @cached_property
    def admin_prefix(self) -> str:
        return reverse("admin:index")

    def __call__(self, request):
        if request.path_info.startswith(self.admin_prefix):
            return self.admin_handler(request)
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not request.path_info.startswith(self.admin_prefix):
            return None
        for hook in self._view_hooks:
            response = hook(request, view_func, view_args, view_kwargs)
            if response is not None:
                return response
        return None
