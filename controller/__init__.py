"""The warehouse routing controller: a kopf operator that keeps the routing ConfigMap true.

``kopf run -m controller --namespace NS`` imports this package; importing :mod:`.handlers`
here is what registers the handlers with kopf. ``warehouse-controller`` does the same.
"""

from . import handlers  # noqa: F401
