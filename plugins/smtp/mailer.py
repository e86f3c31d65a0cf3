"""Engagement Cloud's SMTP relay: the host for the account's region, and a real test email.

The relay takes STARTTLS on ports 25, 587 and 2525 (reference §11.1) with a transactional
email user's credentials (not the API user). The test speaks SMTP step by step so the page can
show the server's own answer to the message (``250 …``) or say plainly which step failed.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

PORTS = (587, 2525, 25)
DEFAULT_PORT = 587
REGION_HOSTS = {
    "r1": "r1-smtp.dotdigital.com",  # Europe
    "r2": "r2-smtp.dotdigital.com",  # North America
    "r3": "r3-smtp.dotdigital.com",  # Asia Pacific
}
REGION_NAMES = {"r1": "Europe", "r2": "North America", "r3": "Asia Pacific"}


def known_region(region: str | None) -> str:
    """A region id the relay serves (``r1``…``r3``); ``r1`` when the account does not say."""
    return region if region in REGION_HOSTS else "r1"


def smtp_host_for(region: str) -> str:
    return REGION_HOSTS.get(region, REGION_HOSTS["r1"])


@dataclass(frozen=True)
class SendResult:
    ok: bool
    message: str  # what the merchant reads
    server_answer: str | None = None  # the server's reply, e.g. "250 2.0.0 OK queued"


def _answer(code: int, reply: bytes | str) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {text}".strip()


def build_test_message(sender: str, recipient: str, store_name: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = f"Test email from {store_name or 'your store'} through Engagement Cloud SMTP"
    message["Message-ID"] = make_msgid(domain="connector.invalid")
    message.set_content(
        "This is a test email sent through Engagement Cloud's SMTP server with the settings you entered.\n"
        "If you can read this, your store can send its transactional email the same way.\n"
    )
    return message


def send_test_email(
    *,
    host: str,
    port: int,
    username: str,
    password: str,
    message: EmailMessage,
    tls_context: ssl.SSLContext,
    timeout: float = 20,
) -> SendResult:
    """Connect, STARTTLS, log in and send ``message``; never raises for SMTP or network failures."""
    where = f"{host}:{port}"
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as client:
            client.ehlo()
            if not client.has_extn("starttls"):
                return SendResult(False, f"{where} does not offer STARTTLS, so the password cannot be sent safely.")
            client.starttls(context=tls_context)
            client.ehlo()
            client.login(username, password)
            sender, recipients = message["From"], [message["To"]]
            code, reply = client.mail(sender)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, reply, sender)
            code, reply = client.rcpt(recipients[0])
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({recipients[0]: (code, reply)})
            code, reply = client.data(message.as_bytes())
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)
            answer = _answer(code, reply)
            return SendResult(True, f"The test email was accepted for delivery to {recipients[0]}.", answer)
    except smtplib.SMTPAuthenticationError as error:
        return SendResult(
            False,
            "The SMTP server refused the username or password. Use the SMTP username and password of a "
            "transactional email user from Engagement Cloud (not the API user), and check the password.",
            _answer(error.smtp_code, error.smtp_error),
        )
    except smtplib.SMTPSenderRefused as error:
        return SendResult(
            False,
            f"The server refused the sender {error.sender}: use a from address registered in your Engagement Cloud account.",
            _answer(error.smtp_code, error.smtp_error),
        )
    except smtplib.SMTPRecipientsRefused as error:
        recipient, (code, reply) = next(iter(error.recipients.items()))
        return SendResult(False, f"The server refused the recipient {recipient}.", _answer(code, reply))
    except smtplib.SMTPResponseException as error:
        return SendResult(False, "The server refused the test email.", _answer(error.smtp_code, error.smtp_error))
    except ssl.SSLCertVerificationError as error:
        return SendResult(False, f"The certificate of {where} could not be verified ({error.verify_message}).")
    except ssl.SSLError as error:
        return SendResult(False, f"The secure connection (STARTTLS) to {where} failed: {error.reason or error}.")
    except smtplib.SMTPServerDisconnected:
        return SendResult(False, f"{where} closed the connection before the test email was sent. Try another port.")
    except TimeoutError:
        return SendResult(False, f"{where} did not answer in time: the port may be blocked. Try another port.")
    except ConnectionRefusedError:
        return SendResult(False, f"{where} refused the connection: try another port.")
    except smtplib.SMTPException as error:  # before OSError, of which it is a subclass
        return SendResult(False, f"The test failed: {error}.")
    except OSError as error:
        return SendResult(False, f"{where} could not be reached: {error.strerror or error}.")
