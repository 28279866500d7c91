"""Scheduled jobs of the festival backend (APScheduler, once per due time across processes)."""
