"""Kubernetes names every part agrees on: the chart writes them, the controller selects by them.

Defined once so that a label renamed in the chart cannot silently detach the controller.
"""

COMPONENT_LABEL = "app.kubernetes.io/component"
COMPONENT_WAREHOUSE = "warehouse"
#: a region's read-only follower (issue 11): its Service's URL goes into the region's readUrls
COMPONENT_FOLLOWER = "warehouse-follower"
REGION_LABEL = "orders.routing.io/region"
PART_OF_LABEL = "app.kubernetes.io/part-of"
PART_OF = "regional-orders"

#: label selector (Kubernetes syntax) for warehouse Services
WAREHOUSE_SELECTOR = f"{COMPONENT_LABEL}={COMPONENT_WAREHOUSE}"
#: label selector for every Service the routing document is built from (primaries + followers)
ROUTED_SELECTOR = f"{COMPONENT_LABEL} in ({COMPONENT_WAREHOUSE},{COMPONENT_FOLLOWER})"

ROUTING_CONFIGMAP = "warehouse-routing"
ROUTING_KEY = "routing.json"

#: the port a warehouse Service exposes, used to build a region's URL
WAREHOUSE_PORT = 8000
