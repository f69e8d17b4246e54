"""Products as rows of a spreadsheet, for the admin's CSV/XLSX import and export (django-import-export)."""

from django.core.exceptions import ValidationError
from django.utils import timezone
from import_export import fields, resources, widgets
from import_export.instance_loaders import CachedInstanceLoader

from aggregator.params import parse_uuid
from catalogue.models import Product
from catalogue.serializers import ProductInputSerializer
from catalogue.services import BULK_CREATE_MAX, products_bulk_create


class ProductIdWidget(widgets.Widget):
    """A product id as the cached loader looks it up: a UUID, or None where the cell holds none.

    A cell that is not an id is None here too; `ProductResource.get_instance` reports it for its row.
    """

    def clean(self, value, row=None, **kwargs):
        return parse_uuid(str(value).strip()) if value else None


class ProductResource(resources.ModelResource):
    """Export: every catalogue column (the sync state is the offer sync's, not the catalogue's).

    Import: name and description, checked by the API's rules. A row with an id updates that product
    (so re-importing an export changes nothing: unchanged rows are skipped); a row without one
    makes a new product, created through the bulk service so the worker registers it; an id no
    product has is that row's error. Dates in the file are ignored."""

    id = fields.Field(attribute="id", column_name="id", readonly=True, widget=ProductIdWidget())
    created_at = fields.Field(attribute="created_at", column_name="created_at", readonly=True)
    updated_at = fields.Field(attribute="updated_at", column_name="updated_at", readonly=True)

    class Meta:
        model = Product
        fields = ("id", "name", "description", "created_at", "updated_at")
        export_order = fields
        import_id_fields = ("id",)
        # One query for the file's ids, not one per row.
        instance_loader_class = CachedInstanceLoader
        skip_unchanged = True
        report_skipped = True
        use_bulk = True
        batch_size = BULK_CREATE_MAX
        clean_model_instances = True

    def before_import(self, dataset, **kwargs):
        if "id" not in dataset.headers:  # a file of new products only: name and description
            dataset.append_col([""] * len(dataset), header="id")

    def get_instance(self, instance_loader, row):
        raw = str(row.get("id") or "").strip()
        if not raw:
            return None
        if parse_uuid(raw) is None:
            raise ValueError(f"id {raw!r} is not a product id; leave it empty to create a new product")
        instance = super().get_instance(instance_loader, row)
        if instance is None:
            raise ValueError(f"no product has id {raw}; leave it empty to create a new product")
        return instance

    def before_save_instance(self, instance, row, **kwargs):
        if not instance._state.adding:
            instance.updated_at = timezone.now()  # bulk updates skip auto_now; the column is among theirs

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        serializer = ProductInputSerializer(data={"name": instance.name, "description": instance.description or None})
        if not serializer.is_valid():
            errors = dict(import_validation_errors or {})
            for field, messages in serializer.errors.items():
                errors.setdefault(field, []).extend(str(message) for message in messages)
            raise ValidationError(errors)
        instance.name = serializer.validated_data["name"]
        instance.description = serializer.validated_data["description"]
        super().validate_instance(instance, import_validation_errors, validate_unique=False)

    def bulk_create(self, using_transactions, dry_run, raise_errors, batch_size=None, result=None):
        # Through the catalogue's service rather than Product.objects.bulk_create, so that the
        # products are announced (products_created) and left pending for the worker.
        if self.create_instances and (using_transactions or not dry_run):
            try:
                items = [{"name": p.name, "description": p.description} for p in self.create_instances]
                products_bulk_create(items=items)
            except Exception as exc:  # reported per import by the library, as its own bulk_create does
                self.handle_import_error(result, exc, raise_errors)
            finally:
                self.create_instances.clear()
