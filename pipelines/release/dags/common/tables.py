"""Tables the shop DAGs read and write."""

ORDERS = "shop.orders"
ORDERS_DAILY = "shop_reports.orders_daily"
