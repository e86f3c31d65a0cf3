"""The ``celery`` executor's Celery application: the broker, the queues and task names, and
the worker command (``flask --app host worker``). Celery is imported only when it is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Flask

from host.config import ConfigError

if TYPE_CHECKING:
    from celery import Celery

# Two queues, so a webhook's change never waits behind long cycles: workers take both unless
# told (``flask --app host worker --queues connector-host.fast`` keeps one for the fast lane).
CYCLE_QUEUE = "connector-host.cycles"
FAST_LANE_QUEUE = "connector-host.fast"
QUEUES = (FAST_LANE_QUEUE, CYCLE_QUEUE)
CYCLE_TASK = "host.cycle"
FAST_LANE_TASK = "host.fast_lane"
EXTENSION = "host.celery"
REDIS_SCHEMES = ("redis://", "rediss://", "redis+socket://")


def broker_url(app: Flask) -> str:
    url = str(app.config.get("HOST", {}).get("broker_url") or "")
    if not url:
        raise ConfigError(
            '[host] executor is "celery" but [host] broker_url is empty: '
            "set it to redis://host:6379/0 or amqp://user:password@host:5672//"
        )
    return url


def result_backend(app: Flask, url: str) -> str:
    """Where a task's state (waiting, started, done) is kept for the scheduler to ask: on Redis
    itself, or, with RabbitMQ, in the host's own database (Celery's ``celery_taskmeta`` table).
    Not RabbitMQ replies (``rpc://``): those reach only the thread that sent the task, and the
    scheduler asks from other threads, so every task there looked still waiting."""
    if url.startswith(REDIS_SCHEMES):
        return url
    return "db+" + str(app.config["DATABASE"]["url"])


def get_celery(app: Flask) -> Celery:
    """The app's Celery application, made on first use (Celery is imported only then)."""
    celery = app.extensions.get(EXTENSION)
    if celery is None:
        celery = app.extensions[EXTENSION] = make_celery(app)
    return celery


def make_celery(app: Flask) -> Celery:
    from celery import Celery, Task

    class AppTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    url = broker_url(app)
    celery = Celery(app.import_name, task_cls=AppTask, set_as_current=False)
    celery.conf.update(
        broker_url=url,
        result_backend=result_backend(app, url),
        result_expires=3600,
        task_default_queue=CYCLE_QUEUE,
        task_serializer="json",
        accept_content=["json"],
        # One task at a time per worker process: the rest stay queued for whichever is idle.
        worker_prefetch_multiplier=1,
        task_track_started=True,  # so a task still queued is told from one a dead worker held
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    from host.executors.celery_tasks import cycle_task, fast_lane_task

    celery.task(name=CYCLE_TASK)(cycle_task)
    celery.task(name=FAST_LANE_TASK)(fast_lane_task)
    return celery


def run_worker(app: Flask, arguments: list[str]) -> None:
    """Run a Celery worker of the app's tasks in this process (``flask --app host worker``)."""
    from celery.signals import worker_process_init

    def fresh_connections(**_: Any) -> None:  # a forked worker child must not share sockets
        app.extensions["host.db"].engine.dispose(close=False)

    worker_process_init.connect(fresh_connections, weak=False)
    told = any(arg in ("-Q", "--queues") or arg.startswith(("-Q", "--queues=")) for arg in arguments)
    queues = [] if told else ["--queues", ",".join(QUEUES)]  # both, unless told which
    get_celery(app).worker_main(["worker", *queues, "--loglevel", "INFO", *arguments])
