"""The executor setting: ``local`` by default with nothing new imported, a clear refusal of an
unknown name, and a ``celery`` executor whose broker is away makes ``/healthz`` say so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from host.config import ConfigError
from host.scheduler import HostScheduler

REPOSITORY = Path(__file__).resolve().parents[1]


def test_the_local_executor_is_the_default_and_never_imports_celery(tmp_path):
    code = (
        "import sys\n"
        "from host import create_app\n"
        "from host.scheduler import HostScheduler\n"
        "app = create_app()\n"
        "scheduler = HostScheduler(app)\n"
        "print(scheduler.executor.name, 'celery' in sys.modules, 'kombu' in sys.modules)\n"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HOST_") and k != "DATABASE_URL"}
    environment.update(HOST_INSTANCE_PATH=str(tmp_path), HOST_DATABASE__URL=f"sqlite:///{tmp_path}/host.db")
    answer = subprocess.run(
        [sys.executable, "-c", code], cwd=REPOSITORY, env=environment, capture_output=True, text=True, timeout=60
    )
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.split() == ["local", "False", "False"]


def test_healthz_names_the_local_executor(client):
    assert client.get("/healthz").get_json()["executor"] == {"name": "local"}


def test_an_unknown_executor_is_refused_by_name(make_app):
    app = make_app(HOST={"executor": "threads"})
    with pytest.raises(ConfigError, match="executor is 'threads'"):
        HostScheduler(app)
    executor = app.test_client().get("/healthz").get_json()["executor"]
    assert executor["status"] == "error" and "local, celery" in executor["error"]


def test_a_celery_executor_without_a_broker_url_says_which_setting(make_app):
    pytest.importorskip("celery")
    with pytest.raises(ConfigError, match=r"\[host\] broker_url is empty"):
        HostScheduler(make_app(HOST={"executor": "celery"}))


def test_a_broker_out_of_reach_makes_the_host_unhealthy_without_showing_its_address(make_app):
    pytest.importorskip("celery")
    url = "redis://:s3cret@127.0.0.1:1/0"  # nothing listens on port 1
    response = make_app(HOST={"executor": "celery", "broker_url": url}).test_client().get("/healthz")
    assert response.status_code == 503
    executor = response.get_json()["executor"]
    assert executor["name"] == "celery" and executor["status"] == "error"
    assert "s3cret" not in response.get_data(as_text=True)
