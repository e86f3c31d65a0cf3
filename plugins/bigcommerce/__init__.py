"""BigCommerce source: app callbacks, API client, declared streams and webhooks."""
