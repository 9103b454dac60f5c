"""Data collection (docs/protocol.md section 5): sample pulls with privileged ground truth, keep the
successful ones, and write a Parquet dataset for policy-head fine-tuning.

    python -m data_collection.run --category drawer
    python -m data_collection.stats data/demos

Importing this package is cheap: the simulator loads only when collection starts.
"""
