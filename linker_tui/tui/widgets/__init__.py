"""Widgets of the request list screen."""
