"""Sampling successful interaction demos for policy-head fine-tuning (issue: data collection). Not implemented yet."""
