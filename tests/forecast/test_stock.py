"""The stock file of a landing day: reading it, its bad inputs, and the plan's order quantity and cover."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecom_tasks.errors import SourceError
from ecom_tasks.forecast import stock
from ecom_tasks.forecast.config import ForecastConfig
from ecom_tasks.sources import landing

DS = "2024-03-10"


def _write(folder: Path, text: str, name: str = "stock.csv", ds: str = DS) -> Path:
    day = folder / f"ds={ds}"
    day.mkdir(parents=True, exist_ok=True)
    (day / name).write_text(text)
    return day / name


def test_a_stock_file_is_read_and_checked(tmp_path: Path) -> None:
    _write(tmp_path, "item_id,on_hand,on_order\na,5,0\nb,0,12.5\n")
    got = stock.read(str(tmp_path), DS)
    assert got is not None and got.file.endswith("ds=2024-03-10/stock.csv")
    assert got.frame["item_id"].tolist() == ["a", "b"]
    assert got.frame["on_hand"].tolist() == [5.0, 0.0] and got.frame["on_order"].tolist() == [0.0, 12.5]


def test_no_folder_or_no_file_of_that_day_is_no_stock(tmp_path: Path) -> None:
    assert stock.read(None, DS) is None
    _write(tmp_path, "item_id,on_hand,on_order\na,5,0\n", ds="2024-03-09")  # another day's count
    assert stock.read(str(tmp_path), DS) is None


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        ("item_id,on_hand\na,5\n", "on_order", "missing column"),
        ("item_id,on_hand,on_order,shelf\na,5,0,x\n", "shelf", "unexpected column"),
        ("item_id,on_hand,on_order\na,five,0\n", "on_hand", ""),
        ("item_id,on_hand,on_order\na,5,0\nb,-2,0\n", "on_hand", "first item 'b': -2.0"),
        ("item_id,on_hand,on_order\na,5,-1\n", "on_order", "negative"),
        ("item_id,on_hand,on_order\na,5,0\na,6,0\n", "item_id", "item 'a' appears more than once"),
        ("item_id,on_hand,on_order\na,,0\n", "on_hand", ""),
    ],
)
def test_a_bad_stock_file_names_the_file_and_the_column(
    tmp_path: Path, text: str, column: str, words: str
) -> None:
    file = _write(tmp_path, text)
    with pytest.raises(SourceError) as err:
        stock.read(str(tmp_path), DS)
    assert str(file) in str(err.value) and err.value.column == column and words in str(err.value)


def test_two_stock_files_on_one_day_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, "item_id,on_hand,on_order\na,5,0\n")
    _write(tmp_path, "item_id,on_hand,on_order\na,5,0\n", name="stock.csv.gz")
    with pytest.raises(SourceError, match="a day holds one stock file"):
        stock.read(str(tmp_path), DS)


def test_ingest_leaves_the_stock_file_to_the_forecast(tmp_path: Path) -> None:
    day = _write(tmp_path, "item_id,on_hand,on_order\na,5,0\n").parent
    (day / "events.csv").write_text("x\n")
    assert list(landing._day_files(str(day))) == ["events"]


def test_days_of_cover_follow_the_running_sum_of_the_expected_demand() -> None:
    mean = np.array([[1.0, 1.0, 2.0, 2.0], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    got = stock.cover_days(mean, np.array([3.0, 5.0, 10.0]))
    # item 0: 1, 2, 4, 6 after 1..4 days: 3 units last 2.5 days; item 1 sells nothing: no figure;
    # item 2: 4 units in the horizon, then 6 more at 1 a day: 10 days
    assert got[0] == pytest.approx(2.5) and np.isnan(got[1]) and got[2] == pytest.approx(10.0)
    assert stock.cover_days(mean[:1], np.array([0.0]))[0] == 0.0


def test_the_plan_gets_the_order_quantity_and_says_what_matched() -> None:
    plan = pd.DataFrame({"item_id": ["a", "b", "c"], "order_up_to": [10.0, 5.0, 8.0]})
    table = pd.DataFrame(
        {"item_id": ["a", "b", "zz"], "on_hand": [4.0, 6.0, 1.0], "on_order": [3.0, 1.0, 0.0]}
    )
    mean = np.ones((3, 7))
    out, meta = stock.apply(plan, mean, stock.Stock("f.csv", table))
    assert out["inventory_position"].tolist()[:2] == [7.0, 7.0]
    assert out["order_quantity"].tolist()[:2] == [3.0, 0.0]  # 10 - 7; above its order-up-to: nothing
    assert out["days_of_cover"].tolist()[:2] == [4.0, 6.0]
    assert np.isnan(out.loc[2, "order_quantity"]) and np.isnan(out.loc[2, "days_of_cover"])
    assert meta == {
        "stock": "stock file f.csv",
        "stock_items": 2,
        "stock_items_missing": 1,
        "stock_rows_unknown_item": 1,
    }


def test_a_landing_run_reads_stock_from_its_folder() -> None:
    from ecom_tasks.params import RunParams

    class Run:
        forecast_horizon_days, lead_time_days, review_days, service_level, seed = 28, 14, 7, 0.95, 1
        source, source_path = "landing", "/data/landing"

    assert ForecastConfig.from_run(Run()).stock_folder == "/data/landing"
    assert ForecastConfig.from_run(RunParams()).stock_folder is None
    assert "stock_folder" not in ForecastConfig(stock_folder="/x").to_dict()  # not part of the recipe


def test_the_stage_plans_orders_from_the_landing_folders_stock(
    trained: dict, data_root: str, tmp_path: Path
) -> None:
    import dataclasses

    from ecom_tasks import storage
    from ecom_tasks.forecast.stage import train_forecast
    from tests.forecast.conftest import CONFIG
    from tests.forecast.conftest import DS as SHOP_DS

    landing_folder = tmp_path / "landing"
    _write(landing_folder, "item_id,on_hand,on_order\ni00,3,1\ni01,0,0\nnot-sold,4,0\n", ds=SHOP_DS)
    config = dataclasses.replace(CONFIG, stock_folder=str(landing_folder))
    result = train_forecast(data_root, SHOP_DS, config)
    plan = storage.read_partition(result["inventory_plan_uri"]).set_index("item_id")
    row = plan.loc["i00"]
    assert row["inventory_position"] == 4.0
    assert row["order_quantity"] == pytest.approx(max(row["order_up_to"] - 4.0, 0.0))
    assert row["days_of_cover"] > 0 and plan.loc["i01", "days_of_cover"] == 0.0
    assert plan["order_quantity"].isna().sum() == 23  # 25 items, 2 in the file
    extra = storage.read_manifest(result["inventory_plan_uri"]).extra
    assert extra["stock_items"] == 2 and extra["stock_rows_unknown_item"] == 1
    assert "stock.csv" in extra["stock"]


def test_a_bad_stock_file_fails_the_run_before_anything_is_written(
    trained: dict, data_root: str, tmp_path: Path
) -> None:
    import dataclasses

    from ecom_tasks.forecast.stage import train_forecast
    from tests.forecast.conftest import CONFIG
    from tests.forecast.conftest import DS as SHOP_DS

    landing_folder = tmp_path / "landing"
    _write(landing_folder, "item_id,on_hand,on_order\ni00,-3,1\n", ds=SHOP_DS)
    plan_file = Path(trained["inventory_plan_uri"])
    before = {p: p.stat().st_mtime_ns for p in plan_file.parent.rglob("*")}
    with pytest.raises(SourceError, match=r"on_hand.*'i00'"):
        train_forecast(data_root, SHOP_DS, dataclasses.replace(CONFIG, stock_folder=str(landing_folder)))
    assert {p: p.stat().st_mtime_ns for p in plan_file.parent.rglob("*")} == before
