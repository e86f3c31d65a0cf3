"""The engagement_cloud plugin's hook implementations."""
