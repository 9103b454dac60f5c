"""A policy served over the network: the wire protocol (protocol.py), the `remote` agent that evaluates
a served policy (agent.py) and the server (agents.serve). docs/remote_policy.md documents the protocol."""
