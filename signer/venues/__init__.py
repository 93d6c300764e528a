"""Venue modules: one file per venue; the registry lives here."""
