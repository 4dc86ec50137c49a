"""Base: what every stage needs and nothing stage-specific.

Owns errors and exit codes, the clock, settings, logging, URL paths, atomic files and dates as
people write them. It may import nothing of calendar_service outside ``base``.
"""
