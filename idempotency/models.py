"""Answers to writes sent with an `Idempotency-Key`, kept for 24 hours so that a retry gets the same answer."""

from django.conf import settings
from django.db import models

# Written inside the request's transaction before its work starts; never seen by other requests
# in this state (they wait on the unique constraint until the transaction ends).
IN_PROGRESS = 0


class IdempotencyRecord(models.Model):
    """One user's key and the first answer to the request sent with it.

    The unique constraint on (user, key) is what makes two concurrent requests with one key do
    the work once: the second's insert waits for the first's transaction, then finds its answer.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # SHA-256 of the method, the path and the body as parsed JSON: "the same request".
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(default=IN_PROGRESS)
    # The answer's body as rendered JSON, and the headers a replay repeats (Location).
    response_body = models.TextField(blank=True, default="")
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key_unique")]
        indexes = [models.Index(fields=["expires_at"], name="idempotency_expires_idx")]

    def __str__(self) -> str:
        return f"{self.key} ({self.status_code})"
