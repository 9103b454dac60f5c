"""Batched evaluator and paper tables (issue: evaluation). Not implemented yet."""
