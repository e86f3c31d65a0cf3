"""A local SMTP server that insists on STARTTLS and a login, like Engagement Cloud's relay.

It lives in ``emulators.smtp`` (the demo starts one too); this module keeps the tests' import.
"""

from emulators.smtp import Mailbox, local_smtp_server, self_signed_context

__all__ = ["Mailbox", "local_smtp_server", "self_signed_context"]
