"""Local stand-ins for BigCommerce and Engagement Cloud, faithful to ../shared/reference.

Each emulator is a Flask app (importable for in-process tests) and a command:
``python -m emulators bigcommerce ...`` or ``python -m emulators engagement-cloud ...``.
"""
