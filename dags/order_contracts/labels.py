"""Names every part agrees on: Kubernetes labels (the chart writes them, the controller selects
by them), the routing ConfigMap, and the Airflow DAG id (the DAG declares it, local mode, the
stress tool and the benchmarks trigger it).

Defined once so that a label or id renamed in one place cannot silently detach another part.
"""

#: the order DAG's id (``dags/order_workflow.py``)
DAG_ID = "order_workflow"

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
