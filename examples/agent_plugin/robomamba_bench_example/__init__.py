"""An example agent plugin for robomamba-bench (see agent.py and ../pyproject.toml)."""
