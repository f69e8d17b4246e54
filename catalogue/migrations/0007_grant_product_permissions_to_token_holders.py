"""Product writes now need Django's model permissions (api.permissions); before, any token could write.

So that every token keeps working on upgrade, the users who hold an API token get
`catalogue.add_product`, `change_product` and `delete_product`. The permission rows are created
here if Django has not made them yet (it does after all migrations, in post_migrate). A fresh
database has no tokens and gets nothing. Unapplying leaves the grants: the code before this one
does not read them, and a grant made deliberately since must not go with them.
"""

from django.conf import settings
from django.db import migrations

CODENAMES = {
    "add_product": "Can add product",
    "change_product": "Can change product",
    "delete_product": "Can delete product",
}


def grant(apps, schema_editor):
    Token = apps.get_model("authtoken", "Token")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    holders = list(User.objects.filter(pk__in=Token.objects.values("user_id")))
    if not holders:
        return
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    content_type, _ = ContentType.objects.get_or_create(app_label="catalogue", model="product")
    permissions = [
        Permission.objects.get_or_create(content_type=content_type, codename=codename, defaults={"name": name})[0]
        for codename, name in CODENAMES.items()
    ]
    for user in holders:
        user.user_permissions.add(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0006_drop_product_name_grams_index"),
        ("auth", "0012_alter_user_first_name_max_length"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("contenttypes", "0002_remove_content_type_name"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
