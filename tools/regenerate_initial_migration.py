"""Rewrite migration 0001 from the models. Only while nothing is released: later changes get
their own revisions (``alembic revision --autogenerate`` through host.migrations.alembic_config)."""

import sys
import tempfile
from pathlib import Path

from alembic import command

from host import create_app, migrations

versions = Path(migrations.SCRIPT_LOCATION) / "versions"
for old in versions.glob("0001_*.py"):
    old.unlink()
with tempfile.TemporaryDirectory() as folder:
    app = create_app({"INSTANCE_PATH": folder, "DATABASE": {"url": f"sqlite:///{folder}/gen.db"}})
    with app.app_context():
        command.revision(migrations.alembic_config(), message="initial schema", autogenerate=True, rev_id="0001")
sys.exit(0)
