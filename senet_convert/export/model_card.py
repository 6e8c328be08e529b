"""The README.md model card of a timm folder, rendered from what the conversion measured and recorded.

Nothing in it is typed per model except the release's published accuracy, keyed by the architecture
the structure mapped to (and only for the official widths). The front matter is what the Hugging
Face Hub reads: license, library_name, tags, datasets, pipeline_tag.
"""
from __future__ import annotations

from .hub_config import rgb
from ..to_timm.parity import describe

# hujie-frank/SENet README: single 224 x 224 centre crop, ILSVRC-2012 validation, top-1 / top-5 error (%).
PUBLISHED = {
    "se_bn_inception": ("SE-BN-Inception", 23.62, 7.04),
    "legacy_seresnet50": ("SE-ResNet-50", 22.37, 6.36),
    "legacy_seresnet101": ("SE-ResNet-101", 21.75, 5.72),
    "legacy_seresnet152": ("SE-ResNet-152", 21.34, 5.54),
    "legacy_seresnext50_32x4d": ("SE-ResNeXt-50 (32 x 4d)", 20.97, 5.54),
    "legacy_seresnext101_32x4d": ("SE-ResNeXt-101 (32 x 4d)", 19.81, 4.96),
    "legacy_senet154": ("SENet-154", 18.68, 4.47),
}
CITATION = """@inproceedings{hu2018senet,
  title={Squeeze-and-Excitation Networks},
  author={Hu, Jie and Shen, Li and Sun, Gang},
  booktitle={IEEE Conference on Computer Vision and Pattern Recognition},
  year={2018}
}"""


def _rounded(values) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in values) + ")"


def _front_matter(facts: dict) -> list[str]:
    datasets = ["datasets:", "- imagenet-1k"] if facts["num_classes"] == 1000 else []
    return ["---", "tags:", "- image-classification", "- timm", "- senet", "- squeeze-and-excitation", "- caffe",
            "library_name: timm", "license: apache-2.0", *datasets, "pipeline_tag: image-classification", "---"]


def _details(f: dict) -> list[str]:
    arch = f"`{f['architecture']}`" + (" with the widths in config.json's `model_args`" if f["model_args"] else "")
    return [
        f"# Model card for {f['name']}", "",
        f"The weights of the Caffe model `{f['sources']['caffemodel']['name']}` (Squeeze-and-Excitation Networks, "
        f"[hujie-frank/SENet](https://github.com/hujie-frank/SENet)), converted for timm by senet-convert "
        f"{f['versions']['senet_convert']}. Nothing was retrained or fine-tuned.", "",
        "## Model details", "",
        f"- **Architecture:** timm {arch}" + (" (registered by `import senet_convert`)" if f["architecture"] == "se_bn_inception" else ""),
        f"- **Parameters:** {f['parameters'] / 1e6:.2f} M",
        f"- **Classes:** {f['num_classes']}" + (" (ImageNet-1k, ILSVRC-2012)" if f["num_classes"] == 1000 else ""),
        "- **Paper:** Squeeze-and-Excitation Networks, Jie Hu, Li Shen, Gang Sun, CVPR 2018, arXiv:1709.01507",
        "- **Original release:** https://github.com/hujie-frank/SENet (Caffe, Apache-2.0)", "",
    ]


def _provenance(f: dict) -> list[str]:
    v = f["versions"]
    lines = ["## Where the weights came from", "", "| file | sha256 |", "|---|---|"]
    lines += [f"| `{s['name']}` | `{s['sha256']}` |" for s in (f["sources"]["prototxt"], f["sources"]["caffemodel"])]
    return lines + [
        "", "Converted with", "", "```", f["command"], "```", "",
        f"senet-convert {v['senet_convert']}, timm {v['timm']}, torch {v['torch']}. Every tensor comes from one Caffe blob: "
        "Caffe's BatchNorm (mean, variance, scale factor s) and the Scale after it (gamma, beta) become one BatchNorm2d with "
        "running_mean = mean / s, running_var = variance / s, weight = gamma, bias = beta (eps 1e-5, Caffe's default); "
        "convolutions and the classifier keep their blobs. The safetensors metadata `senet_convert.sources` names the blob "
        "behind every key.", "",
    ]


def _parity(f: dict) -> list[str]:
    rows = [r for r in (f["parity"]["mapping"], f["parity"]["folded"]) if r]
    lines = ["## Parity, measured on these weights during the conversion", "",
             "| comparison | input | max \\|logit difference\\| / max \\|logit\\| | top-1 kept | top-5 kept |", "|---|---|---:|:---:|:---:|"]
    lines += [f"| {r['what']} | {r['input']} | {r['relative']:.2e} | {r['top1'][0]}/{r['top1'][1]} | {r['top5'][0]}/{r['top5'][1]} |" for r in rows]
    lines += ["", "The oracle is senet-convert's numpy implementation of Caffe's layers, itself held to real Caffe's outputs by its tests."]
    if f["parity"]["folded"]:
        lines += [
            "", f"**Folding error.** The {f['input_space']} input convention is folded into `{f['first_conv']}` and the BatchNorm after it. "
            "That is exact wherever the first convolution reads the image and not where it reads its zero padding: in Caffe's "
            "net the padding stands for the mean pixel (104, 117, 123 in B, G, R), here for ImageNet's mean colour. Measured "
            f"on these weights: {describe(f['parity']['folded'])}. For no error at all, convert with `--input-space caffe`.",
        ]
    return lines + [""]


def _input(f: dict) -> list[str]:
    conv = f["convention"]
    lines = ["## Input and classes", "",
             f"- **Input convention ({f['input_space']}):** {conv.describe()}. config.json states it as timm's transforms "
             f"apply it: mean {_rounded(rgb(conv.mean, conv))} and std {_rounded(rgb(conv.std, conv))} on [0, 1] pixels, in R, G, B order.",
             "- **Preprocessing:** shorter side resized to 256 (bilinear), centre crop 224 x 224: timm's eval transform from this config."]
    if conv.channel_order == "BGR":
        lines.append("- **Channel order:** timm's transforms produce RGB; these weights take BGR. Reverse the channels after the "
                     "transform (`x.flip(-3)`: each colour is already normalised with its own mean), or convert with "
                     "`--input-space torchvision` for weights that take timm's input as it is.")
    order = ("ILSVRC-2012 devkit order (row i is ILSVRC2012_ID i + 1), as the Caffe release" if f["class_order"] == "caffe"
             else "sorted WordNet IDs (row 0 is n01440764, tench), as timm, torchvision and ImageFolder")
    return lines + [f"- **Class order:** {order}; `label_names` in config.json lists the WordNet ID of every row.",
                    "- **Output:** logits (Caffe's `classifier` blob); the release's softmax is not part of the model.", ""]


def _accuracy(f: dict) -> list[str]:
    known = PUBLISHED.get(f["architecture"]) if not f["model_args"] and f["num_classes"] == 1000 else None
    if known is None:
        return ["## Published accuracy", "", "This is not one of the seven official architectures of the release: no published accuracy applies.", ""]
    name, top1, top5 = known
    return ["## Published accuracy", "",
            f"The release reports **{top1:.2f} % top-1 and {top5:.2f} % top-5 error** for its {name} (ILSVRC-2012 validation, "
            "single 224 x 224 centre crop). These are the release's figures, not measured here; they describe these weights "
            "if the caffemodel above is the released file.", ""]


def _usage(f: dict) -> list[str]:
    lines = ["## How to use", "", "```python", "import timm, torch"]
    if f["architecture"] == "se_bn_inception":
        lines.append("import senet_convert  # registers se_bn_inception with timm (pip install senet-convert)")
    lines += [
        f'model = timm.create_model("local-dir:{f["name"]}", pretrained=True).eval()  # or "hf-hub:ORG/{f["name"]}" once pushed',
        "config = timm.data.resolve_data_config(model=model)",
        "transform = timm.data.create_transform(**config)",
        "x = transform(image).unsqueeze(0)  # image: a PIL image" + ("\nx = x.flip(-3)  # RGB -> BGR" if f["convention"].channel_order == "BGR" else ""),
        "with torch.no_grad():", "    probabilities = model(x).softmax(-1)",
        "```", "",
        "As a backbone, `timm.create_model(..., pretrained=True, features_only=True)` returns the feature maps of:", "",
        "| module | stride | channels |", "|---|---:|---:|",
    ]
    lines += [f"| `{m}` | {r} | {c} |" for m, r, c in f["features"]]
    if f["architecture"] == "se_bn_inception":
        lines += ["", "Its inception blocks concatenate branches that meet only at input sizes that are multiples of 32, as in Caffe."]
    return lines + [""]


def render(facts: dict) -> str:
    """The model card for a folder; `facts` as hub_folder.card_facts builds them."""
    parts = [_front_matter(facts), _details(facts), _provenance(facts), _parity(facts), _input(facts), _accuracy(facts), _usage(facts),
             ["## Citation", "", "```bibtex", CITATION, "```"]]
    return "\n".join(line for part in parts for line in part) + "\n"
