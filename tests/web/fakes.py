"""A throwaway destination plugin for the page tests: an account with books, programs and fields."""

from __future__ import annotations

from host.destinations import AccountInfo, CredentialField, Destination, Option
from host.errors import ConfigurationError
from host.hookspecs import hookimpl
from host.mapping import Mapper
from host.sources import Source

ACCOUNTS = {"api-staging@example.com": "staging-pass", "api-live@example.com": "live-pass"}


class FakeDestination(Destination):
    name = "fake_cloud"
    title = "Fake Cloud"
    # An API user, as Engagement Cloud asks for one (the connect form is built from these).
    credential_fields = (
        CredentialField("username", "API username", help="Looks like apiuser-123456789@apiconnector.com",
                        autocomplete="username"),
        CredentialField("password", "API password", type="password", autocomplete="current-password"),
    )

    def __init__(self):
        self.book_options = [Option("11", "Customers"), Option("12", "Newsletter"), Option("13", "VIP")]
        self.program_options = [Option("21", "Welcome series"), Option("22", "Old promo", active=False)]
        self.field_options = [Option(name, name, type="String") for name in ("FIRSTNAME", "LASTNAME", "FULLNAME", "POSTCODE")]
        self.lookups_fail: str | None = None

    def check_credentials(self, credentials):
        if ACCOUNTS.get(credentials.get("username")) != credentials.get("password"):
            raise ConfigurationError("Fake Cloud did not accept this API username and password.")
        return AccountInfo(
            account=credentials["username"],
            data={"region": "r2", "api_endpoint": "https://r2-api.example.test"},
            secrets=dict(credentials),
        )

    def _answer(self, options):
        if self.lookups_fail:
            raise ConfigurationError(self.lookups_fail)
        return list(options)

    def address_books(self, connection):
        return self._answer(self.book_options)

    def programs(self, connection):
        return self._answer(self.program_options)

    def data_fields(self, connection):
        return self._answer(self.field_options)

    def create_data_field(self, connection, name, type):
        option = Option(name, name, type=type)
        self.field_options.append(option)
        return option

    def write_contacts(self, connection, records, *, book_id):
        raise NotImplementedError

    def remove_from_book(self, connection, book_id, emails):
        raise NotImplementedError

    def write_records(self, connection, collection, records):
        raise NotImplementedError

    def enrol(self, connection, program_id, contact_ids):
        raise NotImplementedError

    def contact_status(self, connection, email):
        raise NotImplementedError

    def enrolment_status(self, connection, enrolment_id):
        raise NotImplementedError


class FakeMapper(Mapper):
    destination = "fake_cloud"

    def default_mapping(self):
        return {"first_name": "FIRSTNAME", "last_name": "LASTNAME", "billing_postcode": "POSTCODE"}

    def map_contact(self, connection, *, email, fields, mapping, subscriber=None):
        raise NotImplementedError

    def map_order(self, connection, order):
        raise NotImplementedError

    def map_product(self, connection, product):
        raise NotImplementedError


class FakeEngagementCloud(FakeDestination):
    """The fake account registered under Engagement Cloud's name, for the pages that apply to
    Engagement Cloud accounts only (the SMTP tab), with its public ``region``."""

    name = "engagement_cloud"

    def region(self, connection):
        return (connection.destination_data or {}).get("region")


class FakeCloudPlugin:
    """Registered for one test with ``make_app(PLUGIN_MODULES=[plugin])``."""

    def __init__(self, destination: FakeDestination | None = None):
        self.destination = destination or FakeDestination()
        self.removed: list[int] = []

    @hookimpl
    def register_destinations(self, register):
        register(self.destination)

    @hookimpl
    def register_mappers(self, register):
        mapper = FakeMapper()
        mapper.destination = self.destination.name  # writes for whichever fake account this is
        register(mapper)

    @hookimpl
    def connection_removed(self, connection):
        self.removed.append(connection.id)


class FakeShopSource(Source):
    """The source ``install_store`` installs stores of (``fakeshop``). It stands in for BigCommerce
    in the page tests, so it declares the same control panels (``frame_origins``, and each store's
    own ``control_panel_base_url``, as ``install_store`` saves it)."""

    name = "fakeshop"
    title = "Fake Shop"
    frame_origins = ("https://*.bigcommerce.com",)

    def streams(self):
        return []

    def read(self, connection, stream, *, since=None, ids=None):
        return iter(())

    def control_panel_url(self, connection):
        return (connection.source_data or {}).get("control_panel_base_url")


class FakeShopPlugin:
    """Registers ``FakeShopSource`` for one test (``make_app(PLUGIN_MODULES=[...])``)."""

    @hookimpl
    def register_sources(self, register):
        register(FakeShopSource())
