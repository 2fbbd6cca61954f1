"""Pipeline stages: one module per stage, each a small `Stage` subclass with its config."""
