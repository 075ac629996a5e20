"""Dialogs. Each returns a typed result; Esc (or Cancel) always means "change nothing"."""
