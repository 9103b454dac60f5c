"""Batched evaluator and paper tables.

    python -m evaluation.run --agent robomamba [--checkpoint DIR]      # episodes.jsonl + run.json
    python -m evaluation.tables --runs DIR [DIR ...] --out DIR --reference

Modules: `episodes` (the seeded work list, identical for every agent), `simulate` (environment
slots, worker processes), `runner` (the batched loop, resume, run.json), `record` (annotated
stills), `tables` (CSV tables, Wilson intervals, plot), `config` (EvalConfig).
"""
