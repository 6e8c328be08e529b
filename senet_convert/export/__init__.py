"""The files a conversion writes: the checkpoint, the .pt2 and safetensors (checkpoint.py), ONNX (onnx.py,
onnx_files.py); timm folders are hub_folder.py and timm_weights.py."""

from .checkpoint import input_contract, load_checkpoint, save_checkpoint, save_pt2, save_safetensors, sha256, source_hashes, versions
