"""Products as rows of a spreadsheet, for the admin's CSV/XLSX import and export (django-import-export)."""

from django.core.exceptions import ValidationError
from import_export import fields, resources

from catalogue.models import Product
from catalogue.serializers import ProductInputSerializer
from catalogue.services import BULK_CREATE_MAX, products_bulk_create


class ProductResource(resources.ModelResource):
    """Export: every catalogue column (the sync state is the offer sync's, not the catalogue's). Import: name and
    description only; every row makes a new product (ids and dates in the file are ignored), checked
    by the API's rules and created through the bulk service, so the worker registers them."""

    id = fields.Field(attribute="id", column_name="id", readonly=True)
    created_at = fields.Field(attribute="created_at", column_name="created_at", readonly=True)
    updated_at = fields.Field(attribute="updated_at", column_name="updated_at", readonly=True)

    class Meta:
        model = Product
        fields = ("id", "name", "description", "created_at", "updated_at")
        export_order = fields
        force_init_instance = True  # rows never update: no lookup per row
        use_bulk = True
        batch_size = BULK_CREATE_MAX
        clean_model_instances = True

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
