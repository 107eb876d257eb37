"""Duty: office hours, the Chinese holiday calendar, the duty rota."""
