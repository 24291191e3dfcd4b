"""Depot commands: append-resource, run-jobs-dcor-depot."""
from __future__ import annotations

COMMANDS: list = []
