"""The product catalogue, which this service owns."""

import uuid

from django.contrib.postgres.indexes import OpClass
from django.db import models
from django.db.models.functions import Upper

from aggregator.postgres import PostgresOnlyGinIndex

NAME_MAX_LENGTH = 255
DESCRIPTION_MAX_LENGTH = 10_000


class Product(models.Model):
    """A product of ours. Catalogue fields only: apps that add state to a product (the offer sync,
    the price history) keep it in their own models, pointing here."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    description = models.TextField(max_length=DESCRIPTION_MAX_LENGTH, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # The list endpoint pages by (created_at, id).
            models.Index(fields=["created_at", "id"], name="product_created_id_idx"),
            # ?search= (name__icontains, `UPPER(name) LIKE UPPER('%…%')`) on PostgreSQL: trigrams of
            # the same expression, so the planner can use it. Other databases scan.
            PostgresOnlyGinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="product_name_trgm_idx"),
        ]

    def __str__(self) -> str:
        return self.name
