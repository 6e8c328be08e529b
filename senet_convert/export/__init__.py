"""The files a conversion writes: the checkpoint, the .pt2 and safetensors (checkpoint.py), ONNX (onnx.py),
timm state_dicts (timm.py, with the structure reading in timm_structure.py and timm_model.py)."""
