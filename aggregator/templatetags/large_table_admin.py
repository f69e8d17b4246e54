"""The change list's search bar and page links, with the counts of `aggregator.large_admin`.

Django's own tags compute the context; only the count they print differs ("about 1,000,000
products", "more than 10,000 results" instead of a number that would need a full count).
"""

from django import template
from django.contrib.admin.templatetags.admin_list import pagination, search_form

register = template.Library()


@register.inclusion_tag("admin/large_table/search_form.html")
def large_table_search_form(cl):
    return {**search_form(cl), "count_text": cl.paginator.describe_count(cl.opts)}


@register.inclusion_tag("admin/large_table/pagination.html")
def large_table_pagination(cl):
    return {
        **pagination(cl),
        "count_text": cl.paginator.describe_count(cl.opts),
        "limit_text": cl.paginator.describe_limit(),
    }
