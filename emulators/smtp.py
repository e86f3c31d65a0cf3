"""A local SMTP server that insists on STARTTLS and a login, like Engagement Cloud's relay.

The demo (``flask --app host demo``) points the SMTP tab's "Test settings" at it, so a test
email never leaves the machine; the tests use it the same way. It serves on a loopback port with
a throwaway self-signed certificate (the host accepts it only with ``[plugins.smtp]
smtp_tls_insecure``, itself honoured only together with ``smtp_host_override``), requires
STARTTLS before AUTH, and answers each message ``250 2.0.0 Ok: queued as TEST123``.

``local_smtp_server(folder, username, password)`` accepts only that login;
``local_smtp_server(folder)`` accepts any login (the demo's: a newcomer has no SMTP user).
Messages are kept in ``Mailbox.messages``; with ``Mailbox.outbox`` set, each is also written
there as an ``.eml`` file, and ``Mailbox.on_message`` is called with it.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

QUEUED = "250 2.0.0 Ok: queued as TEST123"


class _QuietDeprecation(logging.Filter):
    """aiosmtpd logs a warning about its own use of a deprecated attribute on every successful login."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_QuietDeprecation())


def self_signed_context(folder: Path, hours: float = 24 * 30) -> ssl.SSLContext:
    """A server TLS context with a throwaway certificate for 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=hours))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.touch(mode=0o600)
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


@dataclass
class Mailbox:
    port: int
    host: str = "127.0.0.1"
    messages: list[dict] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    outbox: Path | None = None
    on_message: Callable[[dict], None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def received(self, message: dict) -> None:
        with self._lock:
            self.messages.append(message)
            number = len(self.messages)
        if self.outbox is not None:
            self.outbox.mkdir(parents=True, exist_ok=True)
            path = self.outbox / f"{datetime.datetime.now():%Y%m%d-%H%M%S}-{number:03d}.eml"
            path.write_text(message["data"])
            message["path"] = str(path)
        if self.on_message is not None:
            self.on_message(message)


class _Handler:
    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox

    async def handle_DATA(self, server, session, envelope):
        self.mailbox.received(
            {"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "data": envelope.content.decode(errors="replace")}
        )
        return QUEUED


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@dataclass
class SmtpServer:
    """A running local SMTP server: its mailbox, and ``stop()``."""

    mailbox: Mailbox
    controller: Controller

    @property
    def port(self) -> int:
        return self.mailbox.port

    def stop(self) -> None:
        self.controller.stop()


def start_smtp_server(
    folder: Path,
    username: str | None = None,
    password: str | None = None,
    *,
    port: int = 0,
    outbox: Path | None = None,
    on_message: Callable[[dict], None] | None = None,
    quiet: bool = True,
) -> SmtpServer:
    """Serve on 127.0.0.1 (``port`` 0: a free one) in a background thread until ``stop()``.

    ``folder`` receives the throwaway certificate. ``quiet`` keeps aiosmtpd's per-connection log
    lines (logger ``mail.log``) out of the console.
    """
    mailbox = Mailbox(port=port or free_port(), outbox=outbox, on_message=on_message)
    if quiet and logging.getLogger("mail.log").level == logging.NOTSET:  # a level set by the caller stays
        logging.getLogger("mail.log").setLevel(logging.WARNING)

    def authenticate(server, session, envelope, mechanism, auth_data):
        login = auth_data.login.decode()
        mailbox.logins.append(login)
        if username is None:
            return AuthResult(success=True, handled=False)
        return AuthResult(success=login == username and auth_data.password.decode() == password, handled=False)

    controller = Controller(
        _Handler(mailbox),
        hostname=mailbox.host,
        port=mailbox.port,
        tls_context=self_signed_context(folder),
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    return SmtpServer(mailbox, controller)


@contextmanager
def local_smtp_server(folder: Path, username: str | None = None, password: str | None = None, **options) -> Iterator[Mailbox]:
    """``start_smtp_server`` for the length of a ``with`` block; yields the mailbox."""
    server = start_smtp_server(folder, username, password, **options)
    try:
        yield server.mailbox
    finally:
        server.stop()
