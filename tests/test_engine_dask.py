"""The dask engine: the parts of a partitioned dataset as tasks on a dask.distributed cluster."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialeval import partition_extract
from trialeval.effects import effects
from trialeval.exceptions import EngineError, InputDataError
from trialeval.panel.partitioned import build_panel_engine, build_partitioned

distributed = pytest.importorskip("distributed")

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    d = tmp_path_factory.mktemp("dask") / "data"
    partition_extract(SAMPLE / "ledger.csv", SAMPLE / "spells.csv", d, parts=5)
    return d


def test_dask_equals_local_engine(client, dataset, tmp_path):
    local = build_partitioned(dataset, dataset, "2018-12-31", weeks=80, pre_weeks=2)
    done = []
    remote = build_partitioned(dataset, dataset, "2018-12-31", weeks=80, pre_weeks=2, engine="dask",
                               scheduler=client, progress=lambda d, t: done.append((d, t)))
    assert remote.settings["engine"] == "dask" and done[-1] == (5, 5)
    assert remote.outcomes == local.outcomes and remote.n_persons == local.n_persons
    pd.testing.assert_frame_equal(remote.number_at_risk, local.number_at_risk)
    for min_weeks in (None, 40):
        a, b = local.week_moments(min_weeks=min_weeks), remote.week_moments(min_weeks=min_weeks)
        for col in ("n", "mean", "ss"):
            np.testing.assert_allclose(b[col], a[col], rtol=1e-12, atol=0)
    ea, eb = effects(local).to_frame(), effects(remote).to_frame()
    num = ea.select_dtypes("number").columns
    np.testing.assert_allclose(eb[num].to_numpy(float), ea[num].to_numpy(float), rtol=1e-12, atol=0)
    # and the panel file streamed by the workers is the local one
    build_partitioned(dataset, dataset, "2018-12-31", weeks=10, out=tmp_path / "local.parquet")
    build_panel_engine(dataset, dataset, "2018-12-31", 10, engine="dask", scheduler=client,
                       out=tmp_path / "remote.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "remote.parquet"),
                                  pd.read_parquet(tmp_path / "local.parquet"))


def test_a_part_error_reaches_the_caller(client, tmp_path):
    spells = pd.read_csv(SAMPLE / "spells.csv", dtype=str)
    spells.loc[3, "start_date"] = "03/01/2016"
    spells.to_csv(tmp_path / "spells.csv", index=False)
    partition_extract(SAMPLE / "ledger.csv", tmp_path / "spells.csv", tmp_path / "d", parts=2, drop_bad_rows=True)
    with pytest.raises(InputDataError, match="start_date"):
        build_partitioned(tmp_path / "d", tmp_path / "d", "2018-12-31", weeks=10, engine="dask", scheduler=client)


def test_unreachable_scheduler_and_wrong_use(dataset, monkeypatch):
    import trialeval.engine.dask as engine

    monkeypatch.setattr(engine, "CONNECT_TIMEOUT", 1)
    with pytest.raises(EngineError, match="tcp://127.0.0.1:9: no Dask scheduler answered"):
        build_panel_engine(dataset, dataset, "2018-12-31", 10, engine="dask", scheduler="tcp://127.0.0.1:9")
    with pytest.raises(InputDataError, match="needs --engine dask"):
        build_panel_engine(dataset, dataset, "2018-12-31", 10, scheduler="tcp://127.0.0.1:9")
    with pytest.raises(InputDataError, match="partitioned dataset"):
        build_panel_engine(SAMPLE / "ledger.csv", SAMPLE / "spells.csv", "2018-12-31", 10, engine="dask")
    with pytest.raises(InputDataError, match="engine must be one of"):
        build_panel_engine(dataset, dataset, "2018-12-31", 10, engine="spark")
