"""The results layer: what an evaluation record holds, how success is judged, and every aggregate the
tables, comparisons, ceiling, ablations, run summaries and model cards report.

- `schema`: the episode record (one JSON line of `episodes.jsonl`) as one typed definition, assembled
  from the parts that produce it (the episode sampled by `sim_envs`, the pull's outcome, the work
  item, the evaluator's fields), and the fields that differ between two runs of the same episodes
  (timings, worker, batch);
- `criteria`: the registry of success criteria, each with the record fields it reads; a new criterion
  is one `register(Criterion(...))` (or one entry of `BUILTIN`), and every table picks it up;
- `records`: reading and appending `episodes.jsonl`, and loading evaluation directories into runs;
- `stats`: per-category counts and rates, the mean over categories, Wilson intervals, the bootstrap
  interval of a split's mean;
- `paired`: two runs on the same work list compared episode by episode (paired bootstrap, exact
  McNemar).

It imports nothing of the evaluator's machinery (workers, agents, the simulator), so every consumer
reads results the same way.
"""
