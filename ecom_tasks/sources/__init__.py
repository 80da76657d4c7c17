"""Source adapters: each turns one kind of input into the canonical ``events``/``items``/``users`` tables.

Nothing downstream of ingestion knows which source a partition came from.
"""
