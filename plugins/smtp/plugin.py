"""The smtp plugin's hook implementations."""
