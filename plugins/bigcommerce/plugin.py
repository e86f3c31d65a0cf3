"""The bigcommerce plugin's hook implementations."""
