"""``python -m supportkit_postgres SQLITE_FILE URL [--schema NAME]``: copy a SQLite desk into
PostgreSQL (see :func:`supportkit_postgres.copy_store`)."""

from supportkit_postgres._copy import main

raise SystemExit(main())
