"""Daily order totals for the shop (Cloud Composer / Airflow)."""

from datetime import datetime

from common.tables import ORDERS, ORDERS_DAILY

DAG_ID = "shop_orders_daily"
SCHEDULE = "0 3 * * *"
START = datetime(2026, 1, 1)


def query() -> str:
    return f"INSERT INTO {ORDERS_DAILY} SELECT DATE(created), SUM(total) FROM {ORDERS} GROUP BY 1"
