"""Stage 1, data: days.yaml and offices.yaml read, validated and turned into frozen model values.

Owns the model and the loaders. May import ``base`` only.
"""
