"""The SMTP tab: the relay's host and ports, the SMTP user's credentials, and "Test settings".

The password is stored encrypted (the ``smtp`` settings namespace's secrets) and never shown
again; a blank password field keeps the saved one. A passing test saves what was tested, so a
merchant never has to type the password twice. ``[plugins.smtp] smtp_host_override`` (and
``smtp_port_override``, ``smtp_tls_insecure``) point the test at another server, e.g. a local
one in tests; an unverified TLS context is used only with an override.
"""

from __future__ import annotations

import ssl
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

from host.config import plugin_config
from host.db import db_session
from host.plugins import get_plugins
from host.settings import get_secrets, get_settings, save_settings
from host.web.session import current_connection, merchant_required

from .mailer import (
    DEFAULT_PORT,
    PORTS,
    REGION_NAMES,
    build_test_message,
    known_region,
    send_test_email,
    smtp_host_for,
)
from .plugin import TAB

NAMESPACE = "smtp"
blueprint = Blueprint("smtp", __name__, url_prefix="/settings/smtp", template_folder="templates")


class SmtpForm(Schema):
    class Meta:
        unknown = EXCLUDE

    username = fields.String(
        required=True,
        validate=validate.Length(min=1, max=255, error="Enter the SMTP username."),
        error_messages={"required": "Enter the SMTP username."},
    )
    password = fields.String(
        load_default="",
        validate=validate.Length(max=1024, error="The SMTP password is longer than 1024 characters."),
    )
    port = fields.Integer(
        required=True,
        validate=validate.OneOf(PORTS, error="Choose port 587, 2525 or 25."),
        error_messages={"required": "Choose a port.", "invalid": "Choose port 587, 2525 or 25."},
    )
    test_recipient = fields.Email(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=320, error="Enter an email address, like you@example.com."),
        error_messages={"invalid": "Enter an email address, like you@example.com."},
    )

    @pre_load
    def tidy(self, data: dict[str, Any], **_kwargs) -> dict[str, Any]:
        tidy = {key: value.strip() if isinstance(value, str) and key != "password" else value for key, value in data.items()}
        if tidy.get("test_recipient") == "":
            tidy["test_recipient"] = None
        return tidy


# The source whose control panel the "Enter these settings" steps below walk through.
STEPS_SOURCE = "bigcommerce"


def account_region() -> str:
    """The connected account's region, as its destination says (``EngagementCloud.region``)."""
    connection = current_connection()
    destination = get_plugins().destinations.get(connection.destination)
    region = getattr(destination, "region", None)
    return known_region(region(connection) if callable(region) else None)


def source_title() -> str | None:
    """The store's platform as merchants know it (its source's title), None when not enabled."""
    source = get_plugins().sources.get(current_connection().source)
    return source.title if source is not None else None


def relay() -> tuple[str, int | None, ssl.SSLContext]:
    """Where the test connects: the account's regional relay, or the configured override."""
    config = plugin_config(NAMESPACE)
    override = str(config.get("smtp_host_override") or "")
    host = override or smtp_host_for(account_region())
    port = config.get("smtp_port_override") if override else None
    context = ssl.create_default_context()
    if override and config.get("smtp_tls_insecure"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return host, (int(port) if port else None), context


def _saved() -> tuple[dict[str, Any], bool]:
    connection = current_connection()
    values = {"username": "", "port": DEFAULT_PORT, "test_recipient": (session.get("user") or {}).get("email") or ""}
    values.update(get_settings(db_session(), connection, NAMESPACE))
    return values, bool(get_secrets(db_session(), connection, NAMESPACE).get("password"))


def _render(values: dict[str, Any], errors: dict, result=None, status: int = 200):
    saved, has_password = _saved()
    region = account_region()
    test_server = None  # where "Test settings" really sends, when the admin pointed it elsewhere
    if plugin_config(NAMESPACE).get("smtp_host_override"):
        test_host, test_port, _ = relay()
        test_server = f"{test_host}:{test_port or values.get('port') or saved.get('port') or DEFAULT_PORT}"
    return (
        render_template(
            "smtp/tab.html",
            active_tab="smtp",
            connection=current_connection(),
            values={**saved, **values},
            has_password=has_password,
            errors=errors,
            result=result,
            smtp_host=smtp_host_for(region),
            region_name=REGION_NAMES.get(region, region),
            ports=PORTS,
            test_server=test_server,
            source_title=source_title(),
            steps_for_bigcommerce=current_connection().source == STEPS_SOURCE,
        ),
        status,
    )


@blueprint.get("")
@merchant_required
def tab():
    if not current_connection().is_connected:
        return redirect(url_for("settings.connect"))
    if not TAB.applies_to(current_connection()):
        abort(404)  # not an Engagement Cloud account: there is no relay to set up
    return _render({}, {})


@blueprint.post("")
@merchant_required
def submit():
    if not current_connection().is_connected:
        return redirect(url_for("settings.connect"))
    if not TAB.applies_to(current_connection()):
        abort(404)
    typed = {key: request.form.get(key, "") for key in ("username", "port", "test_recipient")}
    testing = request.form.get("action") == "test"
    try:
        data = SmtpForm().load(request.form.to_dict())
    except ValidationError as error:
        return _render(typed, error.messages, status=400)
    _, has_password = _saved()
    if not data["password"] and not has_password:
        return _render(typed, {"password": ["Enter the SMTP password."]}, status=400)
    if testing and not data["test_recipient"]:
        return _render(typed, {"test_recipient": ["Enter the address the test email goes to."]}, status=400)
    values = {"username": data["username"], "port": data["port"], "test_recipient": data["test_recipient"] or ""}
    new_secret = {"password": data["password"]} if data["password"] else None
    if not testing:
        save_settings(db_session(), current_connection(), NAMESPACE, values, secrets=new_secret)
        db_session().commit()
        flash("SMTP settings saved.", "success")
        return redirect(url_for("smtp.tab"))
    password = data["password"] or get_secrets(db_session(), current_connection(), NAMESPACE)["password"]
    host, port_override, context = relay()
    timeout = float(plugin_config(NAMESPACE).get("timeout_seconds") or 20)
    result = send_test_email(
        host=host,
        port=port_override or data["port"],
        username=data["username"],
        password=password,
        message=build_test_message(data["test_recipient"], data["test_recipient"], current_connection().store_name),
        tls_context=context,
        timeout=timeout,
    )
    if result.ok:
        save_settings(db_session(), current_connection(), NAMESPACE, values, secrets=new_secret)
        db_session().commit()
    return _render(typed, {}, result=result, status=200 if result.ok else 400)
