"""HTTP endpoints for products. Thin: input validation here, rules in services, reads in selectors.

A product as the API shows it is the catalogue's fields plus two of the offer sync's state
(`registered`, `offers_synced_at`), so these endpoints live above both apps (see
docs/architecture.md): writes go through catalogue's services, and the offer sync reacts to a new
product by itself (offers_sync.receivers).
"""

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.response import Response

from aggregator.pagination import KeysetLinkPagination
from aggregator.params import validated_body
from aggregator.responses import created
from aggregator.schema import ERROR_RESPONSES, FORBIDDEN_RESPONSES, WRITE_ERROR_RESPONSES, BulkErrorSerializer
from api.permissions import ProductPermissions
from api.serializers import PRODUCT_COLUMNS, SYNC_STATE_COLUMNS, ProductOutputSerializer
from catalogue.models import NAME_MAX_LENGTH, Product
from catalogue.selectors import product_list
from catalogue.serializers import ProductInputSerializer
from catalogue.services import (
    BULK_CREATE_MAX,
    BulkValidationError,
    product_create,
    product_delete,
    product_update,
    products_bulk_create,
)
from idempotency.schema import IDEMPOTENCY_KEY_PARAMETER, IDEMPOTENCY_RESPONSES
from idempotency.services import respond_idempotently
from offers_sync.models import ProductSyncState

# Writes need the user's product permissions (api.permissions): 403 without them.
PRODUCT_WRITE_RESPONSES = {**WRITE_ERROR_RESPONSES, **FORBIDDEN_RESPONSES}
BULK_ERROR_RESPONSES = {code: answer for code, answer in PRODUCT_WRITE_RESPONSES.items() if code not in {400, 404}}


# What the product endpoints share. (No docstring: drf-spectacular would show it as their description.)
class ProductApi(generics.GenericAPIView):
    # IsAuthenticatedOrReadOnly first: it says to the schema (drf-spectacular) that reads need no token.
    permission_classes = [IsAuthenticatedOrReadOnly, ProductPermissions]
    serializer_class = ProductOutputSerializer


@extend_schema_view(
    get=extend_schema(
        summary="List products, oldest first",
        description=(
            "A JSON array of at most `limit` products. When there are more, the response has a "
            '`Link: <…>; rel="next"` header with the URL of the next page.'
        ),
        parameters=[
            OpenApiParameter(
                "search",
                {"type": "string", "maxLength": NAME_MAX_LENGTH},
                description="Case-insensitive part of the name.",
            )
        ],
        responses={200: ProductOutputSerializer(many=True), **ERROR_RESPONSES},
    ),
    post=extend_schema(
        summary="Create a product",
        description="Creates the product and registers it with the offers service. A client-sent `id` is ignored.",
        request=ProductInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={201: ProductOutputSerializer, **PRODUCT_WRITE_RESPONSES, **IDEMPOTENCY_RESPONSES},
    ),
)
class ProductListCreateApi(ProductApi):
    cache_public = True  # GET: aggregator.http_cache
    pagination_class = KeysetLinkPagination

    def get_queryset(self):
        # Rows as dicts, not model instances: a page of 100 is the endpoint's whole cost.
        search = _search(self.request)
        return product_rows(product_list(search=search), searched=bool(search))

    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ProductOutputSerializer(page, many=True).data)

    def post(self, request):
        return respond_idempotently(request, lambda: self._create(request))

    def _create(self, request) -> Response:
        data = validated_body(ProductInputSerializer, request)
        product = product_create(**data)
        return created(_answer(product), f"/products/{product.id}")


@extend_schema_view(
    get=extend_schema(summary="Get a product", responses={200: ProductOutputSerializer, **ERROR_RESPONSES}),
    put=extend_schema(
        summary="Replace a product's name and description",
        description="An omitted description becomes null.",
        request=ProductInputSerializer,
        responses={200: ProductOutputSerializer, **PRODUCT_WRITE_RESPONSES},
    ),
    patch=extend_schema(
        summary="Update some of a product's fields",
        request=ProductInputSerializer(partial=True),
        responses={200: ProductOutputSerializer, **PRODUCT_WRITE_RESPONSES},
    ),
    delete=extend_schema(
        summary="Delete a product and its cached offers",
        responses={204: OpenApiResponse(description="Deleted."), **PRODUCT_WRITE_RESPONSES},
    ),
)
class ProductDetailApi(ProductApi):
    cache_public = True  # GET: aggregator.http_cache

    def get_object(self) -> Product:
        return generics.get_object_or_404(product_list(), pk=self.kwargs["product_id"])

    def get(self, request, product_id):
        return Response(ProductOutputSerializer(_product_row(product_id)).data)

    def put(self, request, product_id):
        return self._update(partial=False)

    def patch(self, request, product_id):
        return self._update(partial=True)

    def delete(self, request, product_id):
        # Deleted by someone else since get_object() read it: as if this request had come second.
        if not product_delete(product=self.get_object()):
            raise Http404
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, *, partial: bool) -> Response:
        product = self.get_object()
        data = validated_body(ProductInputSerializer, self.request, partial=partial)
        try:
            product = product_update(product=product, data=data)
        except Product.DoesNotExist:
            raise Http404 from None  # deleted since get_object() read it
        return Response(_answer(product))


@extend_schema_view(
    post=extend_schema(
        summary="Create up to 1,000 products at once",
        description=(
            f"A JSON array of 1 to {BULK_CREATE_MAX} `{{name, description?}}` objects, checked by the same rules as "
            "`POST /products`. Valid as a whole or not at all: a `400` names every bad item by its index and "
            "writes nothing; else `201` with the created products, in the order sent. The products are "
            "registered with the offers service in the background by the sync worker (`registered: false` "
            "until then). One bulk request counts once against the write rate limit."
        ),
        # A plain schema: drf-spectacular has no way to give a serializer list minItems and maxItems. The
        # item is the single create's request component.
        request={
            "application/json": {
                "type": "array",
                "minItems": 1,
                "maxItems": BULK_CREATE_MAX,
                "items": {"$ref": "#/components/schemas/ProductInputRequest"},
            }
        },
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: ProductOutputSerializer(many=True),
            400: BulkErrorSerializer,
            **BULK_ERROR_RESPONSES,
            **IDEMPOTENCY_RESPONSES,
        },
    ),
)
class ProductBulkCreateApi(ProductApi):
    def post(self, request):
        return respond_idempotently(request, lambda: self._create(request))

    def _create(self, request) -> Response:
        items = request.data
        if not isinstance(items, list) or not 1 <= len(items) <= BULK_CREATE_MAX:
            raise ValidationError({"detail": f"Expected a JSON array of 1 to {BULK_CREATE_MAX} products."})
        serializer = ProductInputSerializer(data=items, many=True)
        if not serializer.is_valid():
            raise BulkInvalid(_indexed(serializer.errors))
        try:
            products = products_bulk_create(items=[dict(item) for item in serializer.validated_data])
        except BulkValidationError as exc:
            raise BulkInvalid(_indexed(exc.errors)) from None
        created = product_rows(product_list()).filter(pk__in=[product.id for product in products])
        rows = {row["id"]: row for row in created}
        # In the order sent; one deleted by someone else meanwhile is left out.
        answer = [rows[product.id] for product in products if product.id in rows]
        return Response(ProductOutputSerializer(answer, many=True).data, status=status.HTTP_201_CREATED)


class BulkInvalid(ValidationError):
    """400 `{"errors": [{"index": 3, "name": ["…"]}, …]}`, the indexes kept as numbers.

    ValidationError turns every leaf of its detail into a string; the indexes are set afterwards.
    """

    def __init__(self, errors: list[dict]):
        super().__init__()
        detail = ValidationError(errors).detail
        for item, original in zip(detail, errors, strict=True):
            item["index"] = original["index"]
        self.detail = {"errors": detail}


def _indexed(errors) -> list[dict]:
    """A list serializer's errors ({index: field errors}, or a list with {} for good items) as the bulk answer's."""
    by_index = errors.items() if isinstance(errors, dict) else enumerate(errors)
    # An item that is not an object at all (null) has a list of messages rather than field errors.
    return [
        {"index": index, **(item_errors if isinstance(item_errors, dict) else {"non_field_errors": item_errors})}
        for index, item_errors in sorted(by_index)
        if item_errors
    ]


def product_rows(products: QuerySet[Product], *, searched: bool = False) -> QuerySet:
    """`products` as the `.values()` rows ProductOutputSerializer writes out.

    Without a search the sync state's columns come through a LEFT JOIN. A search reads them through
    subqueries (named as the join's columns), which PostgreSQL evaluates for the rows the page
    returns only, so it chooses the search's plan (walk the list's index, or read the trigram
    index's matches and sort them) on the products alone: costed with the join, the sort carries a
    join of every match, and a name few products have walks the whole index.
    """
    if not searched:
        return products.values(*PRODUCT_COLUMNS, *SYNC_STATE_COLUMNS)
    states = ProductSyncState.objects.filter(product_id=OuterRef("pk"))
    subqueries = {column: Subquery(states.values(column.removeprefix("sync_state__"))) for column in SYNC_STATE_COLUMNS}
    return products.values(*PRODUCT_COLUMNS, **subqueries)


def _product_row(product_id) -> dict:
    """The product's `.values()` row, or 404 (also for an id that is not a UUID)."""
    return generics.get_object_or_404(product_rows(product_list()), pk=product_id)


def _answer(product: Product):
    """A written product's answer, read back as GET /products/{id} reads it (404 if deleted meanwhile)."""
    return ProductOutputSerializer(_product_row(product.id)).data


def _search(request) -> str | None:
    search = request.query_params.get("search") or None
    if search is not None and len(search) > NAME_MAX_LENGTH:
        # It could never match, and a long LIKE pattern is work for nothing.
        raise ValidationError({"search": [f"Ensure this field has no more than {NAME_MAX_LENGTH} characters."]})
    return search
