"""Sync from the PMS (connectors) and the request inbox; see ``docs/sync.md``.

For the app: :meth:`linker_tui.services.Services.sync_now`, the scheduled job
(:func:`linker_tui.scheduler.add_sync_job`) and the read side in
:mod:`linker_tui.sync.queries`. Import from the modules themselves: the package imports
nothing, so that reading the sync status does not import the engine.
"""
