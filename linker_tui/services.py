"""Everything the app and the CLI need, wired from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from linker_tui.actor import Actor
from linker_tui.clock import Clock, SystemClock
from linker_tui.config import Settings
from linker_tui.db import create_schema, make_engine
from linker_tui.mail.outbox import DeliveryReport, FileMailer, deliver_queued
from linker_tui.workflow import PracticeInfo, Workflow


@dataclass
class Services:
    """The settings, the database and the workflow, ready to use."""

    settings: Settings
    engine: Engine
    clock: Clock
    actor: Actor
    workflow: Workflow

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        actor: Actor | None = None,
        engine: Engine | None = None,
    ) -> Services:
        """Connect to the configured database (creating the schema if missing)."""
        engine = engine or make_engine(settings.effective_database_url)
        create_schema(engine)
        clock = clock or SystemClock()
        actor = actor or Actor.current()
        practice = PracticeInfo(
            settings.practice_name, settings.practice_address, settings.practice_phone
        )
        workflow = Workflow(engine, clock, actor, settings.tz, practice)
        return cls(settings=settings, engine=engine, clock=clock, actor=actor, workflow=workflow)

    def deliver_outbox(self) -> DeliveryReport:
        """Send queued confirmation emails with the file backend."""
        return deliver_queued(
            self.engine,
            FileMailer(self.settings.effective_outbox_dir),
            self.clock,
            sender=self.settings.practice_email,
            sender_name=self.settings.practice_name,
        )
