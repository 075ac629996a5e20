"""Write docs/settings.md from the Settings model (run after adding or changing a setting)."""

from __future__ import annotations

from pathlib import Path

from linker_tui.settings.reference import settings_reference

if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "docs" / "settings.md"
    target.write_text(settings_reference(), encoding="utf-8")
    print(f"wrote {target}")
