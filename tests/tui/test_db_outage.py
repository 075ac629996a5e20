"""The database going away under a running app (a real PostgreSQL behind a TCP proxy that
the test cuts): one steady status, no pop-ups, decisions refused, recovery by itself; a
read that hangs shows "waiting for the database…"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from linker_tui.store.db import make_engine
from linker_tui.store.schema import drop_schema
from linker_tui.tui.app import LinkerApp
from linker_tui.tui.modals.link import ExactMatch
from tests.conftest import POSTGRES_URL
from tests.tcp_proxy import proxy_to
from tests.tui.drive import SMALL, main_screen, notifications, select, settle, wait_until
from tests.tui.world import build_world

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="LINKER_TEST_POSTGRES_URL is not set"),
]
AWAY = re.compile(r"! database unreachable since \d\d:\d\d — retrying")


def status(app: LinkerApp) -> str:
    return main_screen(app).bottom_bar.sync_text


async def test_the_database_going_away_and_coming_back(tmp_path: Path) -> None:
    url = make_url(POSTGRES_URL)
    with proxy_to(url.host or "127.0.0.1", url.port or 5432) as proxy:
        engine = make_engine(url.set(host="127.0.0.1", port=proxy.port).render_as_string(False))
        drop_schema(engine)
        world = build_world(tmp_path, engine=engine, outbox_interval_seconds=0.5)
        app = LinkerApp(world.services, live_seconds=0.2)  # background jobs run too
        try:
            async with app.run_test(size=SMALL) as pilot:
                await settle(pilot)
                await select(pilot, "Jane")
                assert "unreachable" not in status(app)

                proxy.cut()
                await wait_until(pilot, lambda: bool(AWAY.fullmatch(status(app))), "away", 15)
                away = status(app)
                assert main_screen(app).bottom_bar.sync_problem
                await pilot.pause(2.0)  # ten reads and a few relay runs fail meanwhile
                assert status(app) == away  # one steady state, the same "since"
                assert notifications(app) == []  # and no pop-up

                await pilot.press("a")  # a decision is refused, with the reason
                await wait_until(pilot, lambda: bool(notifications(app)), "the refusal")
                (refused,) = notifications(app)
                assert refused.startswith("The database is unreachable since ")
                assert "Nothing was changed" in refused
                assert len(app.screen_stack) == 1

                proxy.restore()
                await wait_until(pilot, lambda: "unreachable" not in status(app), "back", 15)
                await settle(pilot)
                await pilot.press("a")  # and decisions work again
                await wait_until(pilot, lambda: isinstance(app.screen, ExactMatch), "dialog")
                await pilot.press("escape")
                await settle(pilot)

                proxy.hang()  # packets dropped: a read that waits says so after a second
                main_screen(app).poll()
                await wait_until(
                    pilot, lambda: status(app) == "waiting for the database…", "waiting", 5
                )
                proxy.restore()
                await wait_until(pilot, lambda: "waiting" not in status(app), "answer", 10)
                assert len(notifications(app)) == 1  # the refusal, nothing else
        finally:
            proxy.restore()
            drop_schema(engine)
            engine.dispose()


async def test_outside_the_demo_the_status_line_says_mail_is_not_sent(tmp_path: Path) -> None:
    world = build_world(tmp_path, demo=False)
    app = LinkerApp(world.services, background_jobs=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        bar = main_screen(app).bottom_bar
        assert (bar.mail_text, bar.mail_problem) == ("1 email waiting to be sent · m mail", False)
        world.services.cancel_email(world.outbox("linked")[0].id or 0)
        main_screen(app).refresh_mail()
        await settle(pilot)
        assert bar.mail_text == "mail is not sent: mail_backend = file"
