"""Answers the API's endpoints share."""

from rest_framework import status
from rest_framework.response import Response


def created(data, location: str) -> Response:
    """201 Created with the new resource's URL in `Location` (a replayed request repeats it)."""
    return Response(data, status=status.HTTP_201_CREATED, headers={"Location": location})
