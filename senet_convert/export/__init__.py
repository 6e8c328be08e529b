"""The files a conversion writes: the checkpoint, the .pt2 and safetensors (checkpoint.py), ONNX (onnx.py),
timm state_dicts (timm.py, with the structure reading in timm_structure.py and timm_model.py)."""

from .checkpoint import input_contract, load_checkpoint, save_checkpoint, save_pt2, save_safetensors, sha256, source_hashes, versions
