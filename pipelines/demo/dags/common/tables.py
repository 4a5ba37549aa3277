"""Helpers shared by the demo DAGs (uploaded before the DAGs that import them)."""

ORDERS_TABLE = "analytics.orders_daily"


def partition(ds: str) -> str:
    return ds.replace("-", "")
