"""Who may write products: Django's model permissions, as DRF's `DjangoModelPermissions` has them.

Reads are public. Creating (one product or a bulk) needs `catalogue.add_product`, PUT and PATCH
`catalogue.change_product`, DELETE `catalogue.delete_product`; a superuser has them all. Without a
token the answer is `401`, with one that lacks the permission `403`. They are granted in the admin
(to a user or a group) or with `manage.py shell` (docs/api.md).
"""

from rest_framework.permissions import SAFE_METHODS, DjangoModelPermissions

from catalogue.models import Product


class ProductPermissions(DjangoModelPermissions):
    """DRF's rule for the product model, whatever queryset (if any) the view has."""

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        user = request.user
        if not user or not user.is_authenticated:
            return False
        return user.has_perms(self.get_required_permissions(request.method, Product))
