"""Where the orders go: straight to the warehouse nodes, or through Airflow's REST API."""
