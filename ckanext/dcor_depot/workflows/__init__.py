"""Workflows: what happens to a resource's bytes, one module per workflow.

Each workflow takes ids, re-reads the current state, is built from
`storage/` calls and is safe to run again. Jobs, commands, actions and
views call these functions; they do no storage I/O of their own.
"""
