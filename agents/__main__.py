"""`python -m agents`: list the registered agents, built-in and plugins, with where each comes from
(imports no model code)."""
from .registry import registry

if __name__ == "__main__":
    for name, (target, text, origin) in registry().items():
        print(f"{name:12s} {text}  [{origin}: {target}]")
