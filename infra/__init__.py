"""Run machinery shared by every step of the benchmark, below all of them (it imports none):

- `files`: atomic writes (temp file + rename) and strict JSON of numpy values;
- `cli`: configuration dataclasses turned into command-line flags, one-line errors with exit code 2;
- `rundir`: a resumable job's output directory (identity, refusal of other settings, run record);
- `workers`: spawned worker processes (single-threaded, restarted on death, gone with their parent);
- `provenance`: package versions and the git commit recorded next to every result.
"""
