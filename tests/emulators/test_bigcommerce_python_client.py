"""A widely used third-party client, unchanged, against the BigCommerce emulator: BigCommerce's own
Python client (``pip install bigcommerce``, bigcommerce-api-python) reads orders with their
sub-resources and the legacy v2 customers and products.

Not a project dependency: skipped unless the package is importable (e.g.
``pip install --target /tmp/bcclient bigcommerce && PYTHONPATH=/tmp/bcclient pytest ...``).
The client only speaks ``https://{host}``, so the emulator is served over TLS with a
self-signed certificate made here, trusted through ``REQUESTS_CA_BUNDLE`` (the client's
``requests`` session reads it); the client's own ``BC_API_ENDPOINT`` setting points it at the
server.
"""

from __future__ import annotations

import datetime
import ipaddress
import threading

import pytest
from werkzeug.serving import make_server

from emulators.bigcommerce import StoreSpec, create_app

from .bigcommerce_support import STORE, TOKEN

bigcommerce = pytest.importorskip("bigcommerce", reason="the bigcommerce client is not installed (test-only)")
x509 = pytest.importorskip("cryptography.x509")


def _self_signed(tmp_path) -> tuple[str, str]:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    cert_file, key_file = _self_signed(tmp_path_factory.mktemp("tls"))
    app = create_app([StoreSpec(customers=40, subscribers=10, orders=300, products=20, seed=7)])
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=(cert_file, key_file))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    patch = pytest.MonkeyPatch()
    patch.setenv("REQUESTS_CA_BUNDLE", cert_file)
    patch.setenv("BC_API_ENDPOINT", f"127.0.0.1:{server.port}")
    try:
        yield bigcommerce.api.BigcommerceApi(client_id="any-client-id", store_hash=STORE,
                                             access_token=TOKEN["X-Auth-Token"])
    finally:
        patch.undo()
        server.shutdown()
        thread.join(5)


def _empty(result) -> bool:
    """The client turns a 204 into one resource object holding only its private connection."""
    return not isinstance(result, list) and not [key for key in result if not key.startswith("_")]


def test_orders_with_their_sub_resources(api):
    orders = api.Orders.all(limit=20)
    assert len(orders) == 20 and [o.id for o in orders] == sorted(o.id for o in orders)
    for order in orders:
        products = order.products()
        assert products and all(line.order_id == order.id for line in products)
        assert order.products(products[0].id).id == products[0].id
        addresses = order.shipping_addresses()
        if order.order_is_digital:
            assert _empty(addresses)  # 204
        else:
            assert len(addresses) == order.shipping_address_count
            assert order.shipping_addresses(addresses[0].id).id == addresses[0].id
        assert _empty(order.coupons())  # generated orders carry no coupons: 204


def test_orders_iterall_stops_on_204_and_counts_agree(api):
    everything = list(api.Orders.iterall())
    assert len(everything) == api.Orders.count()
    assert len({o.id for o in everything}) == len(everything)


def test_legacy_customers_and_products(api):
    customers = list(api.Customers.iterall())
    assert [c.id for c in customers] == list(range(1, 41)) and api.Customers.count() == 40
    one = api.Customers.get(5)
    assert one.email == customers[4].email
    with_address = next(c for c in customers if not _empty(api.Customers.get(c.id).addresses()))
    assert all(a.customer_id == with_address.id for a in with_address.addresses())
    products = api.Products.all(limit=250)
    assert len(products) == api.Products.count() == 20
    assert api.Products.get(3).sku == "SKU-00003"


def test_errors_reach_the_client_as_its_exceptions(api):
    from bigcommerce.exception import ClientRequestException

    with pytest.raises(ClientRequestException) as missing:
        api.Orders.get(999999)
    assert missing.value.response.status_code == 404
    with pytest.raises(ClientRequestException) as too_many:
        api.Customers.all(limit=251)
    assert too_many.value.response.status_code == 413
