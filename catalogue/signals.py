"""The catalogue's extension point: apps that keep state about products subscribe here.

The catalogue names none of them. `products_created` is sent by bulk creates (the API's
`POST /products/bulk`, the admin's import) inside the creating transaction, with `products` (a
list of saved Product instances), so whatever a receiver writes commits with the products or not
at all.
"""

from django.dispatch import Signal

products_created = Signal()
