"""Where2Act-style baseline (Mo et al., ICCV 2021) on RGB-D: per-pixel actionability, a direction
proposal network and an action-scoring critic, trained on successful and failed interactions."""
