"""Stage 3, publishing: occurrences turned into feeds (.ics), the static site and the HTTP app.

Owns templates rendering, publication state, feeds, the site and the web application. May import
``base``, ``data`` and ``occurrences``. Pages of later stages (unsubscribe) are routed to, never
imported: ``create_app(unsubscribe=...)`` receives them.
"""
