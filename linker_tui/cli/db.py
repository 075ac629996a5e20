"""``linker-tui db``: create or upgrade the database schema (the administrator, once per
release, before the desks are upgraded), and show which revision a database is at."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from linker_tui.common.outage import DatabaseUnavailable
from linker_tui.settings.config import Settings
from linker_tui.store import schema
from linker_tui.store.db import make_engine, may_update


def add_db_parser(sub: Any) -> None:
    """Register ``db upgrade`` and ``db status`` on the CLI's sub-parsers."""
    db = sub.add_parser("db", help="create or upgrade the database schema")
    actions = db.add_subparsers(dest="db_command", required=True)
    actions.add_parser("upgrade", help="create the schema, or upgrade it to this version's")
    actions.add_parser("status", help="show the database's schema revision and this version's")


def _store_rankings(engine: Engine, settings: Settings) -> None:
    """Rank the open requests never ranked (imported before requests were ranked on
    arrival) and store the rankings: the desks' syncs do it too, except on a shared
    PostgreSQL database, where the desk role may not update requests."""
    from linker_tui.matching.patient_search import store_rankings

    if not may_update(engine, "online_request"):
        return
    ranked = store_rankings(engine, settings.phone_region)
    if ranked:
        print(f"patient rankings stored for {ranked} requests never ranked")


def run_db_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``db upgrade`` / ``db status`` on the configured database; 0 when current."""
    engine = make_engine(settings.effective_database_url)
    url = engine.url.render_as_string(hide_password=True)
    try:
        if args.db_command == "status":
            current, head = schema.current_revision(engine), schema.head_revision()
            print(f"{url}: schema {current or '(none)'}; this linker-tui: {head}")
            try:
                schema.check_schema(engine)
            except schema.SchemaMismatch as exc:
                if not settings.database_url and (
                    current is None or current in schema.known_revisions()
                ):
                    # the default SQLite file: the app and ``sync`` create or upgrade it
                    print(f"{url}: created or upgraded when the app or sync next starts")
                    return 0
                print(exc, file=sys.stderr)
                return 2
            return 0
        current = schema.current_revision(engine)
        try:
            schema.check_schema(engine)
        except schema.SchemaMismatch:
            if current is not None and current not in schema.known_revisions():
                print(
                    f"{url}: schema {current} is newer than this linker-tui knows "
                    f"({schema.head_revision()}); nothing changed.",
                    file=sys.stderr,
                )
                return 2
        else:
            print(f"{url}: schema {current} → {current} (already current)")
            _store_rankings(engine, settings)
            return 0
        schema.check_upgrader(engine, settings.database_admin_role, settings.database_desk_role)
        before, after = schema.upgrade(engine, settings.database_desk_role)
        print(f"{url}: schema {before or '(none)'} → {after}")
        _store_rankings(engine, settings)
        return 0
    except DatabaseUnavailable:
        raise  # one line and its own exit code (linker_tui.common.outage)
    except schema.WrongRole as exc:
        print(f"linker-tui db: {exc}; nothing changed.", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        first = str(exc.orig if isinstance(exc, DBAPIError) else exc).splitlines()[0]
        print(f"linker-tui db: {first}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
