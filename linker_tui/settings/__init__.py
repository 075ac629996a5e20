"""The settings (``linker-tui.toml`` and ``LINKER_*``), the key map and the generated
settings reference."""
