"""Planner statistics during a backfill: the database learns the tables' sizes as they grow,
so a page's look-ups by id use the indexes instead of scanning (see host.sync.statistics)."""

from sqlalchemy import text

from host.db import get_db
from host.sync import statistics


def test_statistics_are_refreshed_as_the_rows_written_double(app):
    statistics._progress.clear()
    refreshed = []
    with app.app_context(), get_db().transaction() as session:
        for _ in range(40):  # 40 pages of 250 records: 10,000 records
            refreshed.append(statistics.records_applied(session, 1, 250))
    # at 2,000, 4,000 and 8,000 records: a few refreshes, not one per page
    assert [i * 250 + 250 for i, done in enumerate(refreshed) if done] == [2000, 4000, 8000]


def test_a_refresh_leaves_statistics_the_planner_reads(app):
    with app.app_context(), get_db().transaction() as session:
        statistics.refresh(session)
        if session.get_bind().dialect.name == "sqlite":
            assert session.execute(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")).scalar()
        else:
            analyzed = session.execute(text(
                "SELECT count(*) FROM pg_stat_user_tables WHERE relname IN ('ledger', 'contact_profiles') "
                "AND (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL)"
            )).scalar()
            assert analyzed == 2
