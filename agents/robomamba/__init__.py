"""RoboMamba (Liu et al., NeurIPS 2024): CLIP vision encoder -> MLP projector -> Mamba language model
-> policy head (contact pixel + 6D rotation). `config.py` holds the size presets, `model.py` the
network; the `transformer` agent is the same model with a Llama-style decoder in place of Mamba."""
