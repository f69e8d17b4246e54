"""Token authentication that throttles failed attempts per client address.

A client that keeps sending wrong or unknown tokens gets `429` with `Retry-After` once it has
failed THROTTLE_FAILED_AUTH_RATE times in the window, and then for *every* token it sends until
the window has passed: otherwise a guesser could still tell a right token (200) from a wrong one
(429) at full speed. Requests without a token are not concerned.
"""

from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled

from aggregator.throttling import FailedAuthenticationThrottle


class ThrottledTokenAuthentication(TokenAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None  # no token: anonymous, as TokenAuthentication has it
        throttle = FailedAuthenticationThrottle()
        if throttle.is_exhausted(request):
            raise Throttled(wait=throttle.wait())
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            throttle.record_failure()
            raise
