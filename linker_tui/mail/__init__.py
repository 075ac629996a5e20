"""Confirmation emails: composing them and delivering the outbox."""
