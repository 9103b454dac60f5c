"""ManipLLM (Li et al., CVPR 2024) at this project's size: a frozen vision encoder and a frozen language
model (the sim-QA co-trained Transformer twin) with LLaMA-Adapter prompts; the action is its text answer."""
