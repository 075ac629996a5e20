"""Building blocks every layer may use: safe text, the clock, the acting desk, private
files, the log file and the one-line outage report. Imports nothing else of linker_tui."""
