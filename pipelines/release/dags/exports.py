"""Nightly export of the shop's orders to the data lake."""

from common.tables import ORDERS

DAG_ID = "shop_exports"
SCHEDULE = "30 4 * * *"
TARGET = f"gs://shop-lake/exports/{ORDERS}"
