"""RoboMamba configuration: size presets as dataclasses.

`tiny` trains on a 2-core CPU in minutes; `paper` has the paper's dimensions (CLIP ViT-L/14 at 224,
Mamba 2.8B: 64 layers, d_model 2560) and is meant for GPUs or for counting parameters.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..frames import FRAMES

LM_TYPES = ("mamba", "llama")
HEADS = ("mlp2", "mlp1", "ssm_mlp2", "point")  # policy heads (heads.py; the first three: paper Appendix Table 6)
VISIONS = ("vit", "mobilenet_v2")  # image encoders (model.build_vision; packaged_vision.py)


@dataclass
class RoboMambaConfig:
    preset: str = "tiny"
    lm_type: str = "mamba"  # "llama": the same-size Transformer twin
    # vision encoder: 'vit' (open_clip VisionTransformer; features from the second-to-last block) or
    # 'mobilenet_v2' (ImageNet-pretrained, from an installed package, frozen; packaged_vision.py)
    vision: str = "vit"
    # what the model sees of the camera image (agents.views), resized to image_size: 'image' (the centre
    # square keeping `crop` of each side; the camera aims at the object's centre; 1 = the whole image) or
    # 'object' (the square around the object mask, `object_margin` of its side around it)
    view: str = "image"
    crop: float = 1.0
    object_margin: float = 0.15
    image_size: int = 224
    patch_size: int = 32
    vision_width: int = 128
    vision_layers: int = 4
    vision_heads: int = 4
    vision_output_dim: int | None = None  # CLIP embedding size (unused by the policy); None = width
    # projector: 3-layer MLP vision_width -> d_model
    projector_hidden: int = 256
    # language model
    d_model: int = 256
    lm_layers: int = 4
    state_size: int = 16  # Mamba
    expand: int = 2  # Mamba
    llama_heads: int = 4  # twin
    llama_intermediate: int | None = None  # twin MLP width; None = chosen to match Mamba's size
    vocab_size: int = 256  # >= the tiny word-level vocabulary (text.py); a real LM brings its own
    max_text_tokens: int = 48
    # policy head (heads.py): 'mlp2' two MLPs on the pooled token (paper), 'mlp1' one MLP, 'ssm_mlp2'
    # (SSM block + MLP) x 2 on the hidden sequence
    head: str = "mlp2"
    head_hidden: int = 256
    # the frame the head's rotation is in: 'camera' (the paper's), or 'world' (z up, the objects' fronts facing
    # -x: a part's approach hardly depends on the camera there); the agent turns it into the camera frame
    # with the observation's cam2world; or 'surface' (the surface at the contact pixel as the depth shows it:
    # z into the surface; agents.frames)
    rotation_frame: str = "camera"
    # real weights (local paths only; nothing is downloaded)
    clip_model: str | None = None  # open_clip model name for clip_checkpoint, e.g. "ViT-L-14"
    clip_checkpoint: str | None = None
    lm_checkpoint: str | None = None  # a local Hugging Face Mamba (or Llama) directory
    freeze_vision: bool | None = None  # None: frozen when clip_checkpoint is given (paper)
    lm_config: dict | None = None  # the Hugging Face config of a loaded LM (filled in on load)

    def __post_init__(self):
        if self.lm_type not in LM_TYPES:
            raise ValueError(f"lm_type={self.lm_type!r}: allowed: {', '.join(LM_TYPES)}")
        if self.vision not in VISIONS:
            raise ValueError(f"vision={self.vision!r}: allowed: {', '.join(VISIONS)}")
        if self.head not in HEADS:
            raise ValueError(f"head={self.head!r}: allowed: {', '.join(HEADS)}")
        self.view_spec()  # ValueError for a bad view, crop or margin
        if self.rotation_frame not in FRAMES:
            raise ValueError(f"rotation_frame={self.rotation_frame!r}: allowed: {', '.join(FRAMES)}")
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size={self.image_size} is not a multiple of patch_size={self.patch_size}")

    def view_spec(self):
        """The agents.views.View this model sees."""
        from ..views import View

        return View(self.view, self.crop, self.object_margin)

    @property
    def image_tokens(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **kw) -> RoboMambaConfig:
        return dataclasses.replace(self, **kw)


PRESETS = {
    "tiny": RoboMambaConfig(),
    # twice tiny's language model (width 256 -> 384, 4 -> 6 layers) and a wider vision encoder: the second
    # backbone size of the ablations (paper Fig. 3b: RoboMamba-1.4B vs 2.7B)
    "small": RoboMambaConfig(preset="small", vision_width=192, vision_layers=6, vision_heads=6, projector_hidden=384,
                             d_model=384, lm_layers=6, llama_heads=6, head_hidden=384),
    # Paper: CLIP ViT-L/14 (224), projector ~21M, Mamba-2.8B (64 layers, d_model 2560, GPT-NeoX vocab)
    "paper": RoboMambaConfig(preset="paper", image_size=224, patch_size=14, vision_width=1024, vision_layers=24,
                             vision_heads=16, projector_hidden=3072, d_model=2560, lm_layers=64, state_size=16,
                             expand=2, llama_heads=32, vocab_size=50280, max_text_tokens=64, head_hidden=576),
}


def preset(name: str, **overrides) -> RoboMambaConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; allowed: {', '.join(PRESETS)}")
    return PRESETS[name].replace(**overrides)
