"""A local SMTP server that insists on STARTTLS and a login, like Engagement Cloud's relay."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed_context(folder: Path) -> ssl.SSLContext:
    """A server TLS context with a throwaway certificate for 127.0.0.1."""
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
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


@dataclass
class Mailbox:
    port: int
    messages: list[dict] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)


class _Handler:
    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox

    async def handle_DATA(self, server, session, envelope):
        self.mailbox.messages.append(
            {"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "data": envelope.content.decode(errors="replace")}
        )
        return "250 2.0.0 Ok: queued as TEST123"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def local_smtp_server(folder: Path, username: str, password: str) -> Iterator[Mailbox]:
    mailbox = Mailbox(port=_free_port())

    def authenticate(server, session, envelope, mechanism, auth_data):
        mailbox.logins.append(auth_data.login.decode())
        ok = auth_data.login.decode() == username and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        _Handler(mailbox),
        hostname="127.0.0.1",
        port=mailbox.port,
        tls_context=self_signed_context(folder),
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
