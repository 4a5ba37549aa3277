"""A demo Airflow DAG: shipgate syncs this folder to the demo bucket."""

from datetime import datetime

from airflow import DAG
from airflow.operators.bash import BashOperator

from common.tables import ORDERS_TABLE, partition

with DAG("orders_daily", start_date=datetime(2026, 1, 1), schedule="@daily", catchup=False) as dag:
    BashOperator(task_id="load", bash_command=f"echo load {ORDERS_TABLE} {partition('{{ ds }}')}")
