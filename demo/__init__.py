"""The demo world: both emulators, a generated store, and the host wired to them.

``make run`` and ``flask --app host demo`` bring it up through the real flows (install in the
store's control panel, the connect page, the Store tab, a sync), so what a newcomer sees is
what a merchant would.
"""
