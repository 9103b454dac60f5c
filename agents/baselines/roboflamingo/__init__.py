"""RoboFlamingo (Li et al., ICLR 2024) at this project's size: the frozen co-trained Transformer twin with
gated cross-attention layers that read perceiver-resampled vision tokens, and a policy head on its last
hidden state."""
