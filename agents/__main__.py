"""`python -m agents`: list the registered agents, built-in and plugins, with where each comes from
(imports no model code)."""
from .registry import registry

if __name__ == "__main__":
    for name, entry in registry().items():
        trained = f"; trained by {entry.trainer}" if entry.trainer else ""
        print(f"{name:12s} {entry.description}  [{entry.origin}: {entry.target}{trained}]")
