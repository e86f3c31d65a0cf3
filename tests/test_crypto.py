"""Tokens and passwords are encrypted at rest and readable only with the deployment's key."""

import stat

import pytest
from sqlalchemy import text

from host import crypto
from host.db import get_db
from host.models import Connection


def test_secrets_are_stored_encrypted_and_read_back(app):
    with app.app_context():
        session = get_db().session
        session.add(Connection(source="shop", source_account="abc", source_secrets={"access_token": "tok-123"}))
        session.commit()
        raw = session.execute(text("SELECT source_secrets FROM connections")).scalar_one()
        assert "tok-123" not in raw
        session.expunge_all()
        stored = session.query(Connection).one()
        assert stored.source_secrets == {"access_token": "tok-123"}


def test_a_key_is_generated_into_the_instance_folder_once(tmp_path):
    first = crypto.load_or_create_key("", str(tmp_path))
    assert crypto.load_or_create_key("", str(tmp_path)) == first
    key_file = tmp_path / "encryption.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_a_configured_key_wins_and_a_wrong_key_cannot_read(tmp_path):
    key_a = crypto.load_or_create_key("", str(tmp_path / "a"))
    key_b = crypto.load_or_create_key("", str(tmp_path / "b"))
    assert crypto.load_or_create_key(key_a.decode(), str(tmp_path / "b")) == key_a
    crypto.configure(key_a)
    token = crypto.encrypt("password")
    crypto.configure(key_b)
    with pytest.raises(crypto.SecretError, match="encryption key"):
        crypto.decrypt(token)


def test_an_invalid_configured_key_is_a_clear_error():
    with pytest.raises(crypto.SecretError, match="not a valid Fernet key"):
        crypto.configure(b"too-short")
