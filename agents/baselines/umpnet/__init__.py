"""UMPNet-style baseline (Xu et al., RA-L 2022) on RGB-D: a per-pixel position score (where to act) and a
direction network that classifies a pull direction at a pixel as opening, closing or no motion (the
paper's Arrow-of-Time), trained on interaction outcomes, failures and exploration included."""
