"""``orders-stress``: load the order system through Airflow or straight to the nodes, and report."""
