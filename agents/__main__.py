"""`python -m agents`: list the registered agents (imports no model code)."""
from .registry import describe

if __name__ == "__main__":
    for name, text in describe().items():
        print(f"{name:12s} {text}")
