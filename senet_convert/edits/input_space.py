"""Input conventions ("input spaces"), the exact adapter between them, and folding it into conv1.

  caffe        what the SENet prototxts state ("# mean_value: 104, 117, 123"): BGR channels, pixel
               values 0-255, minus the per-channel mean (B, G, R order), no scaling.
  torchvision  RGB channels, values in [0, 1], then (x - mean) / std with ImageNet's mean
               (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225): what timm's and torchvision's
               standard transforms produce.

Both are `Convention`s: model input = (p - mean) / std, p the pixel in [0, 1], channels in
`channel_order` (caffe: mean = 104/255, 117/255, 123/255 and std = 1/255). An input t in one
convention maps to another exactly by an affine map that may reorder the channels:
  c = A t + b,   A[k, j] = std_t[j] / std_c[k],   b[k] = (mean_t[j] - mean_c[k]) / std_c[k]
where j is t's channel of the colour of c's channel k. `add_adapter` puts this map in front of the
net as a 1x1 Caffe Convolution (zero weights off the permutation, so each output is one product
plus the bias: float32 rounding only).

Folding the map into the first convolution W instead (what timm needs: it has no adapter slot):
  W'[o, j] = sum_k W[o, k] A[k, j],   offset[o] = sum_{k,u,v} W[o, k, u, v] b[k]
with the offset added to the convolution's output (timm: subtracted from bn1.running_mean). This is
exact where W reads the image and wrong where it reads its zero padding: the original pads the Caffe
input with 0, the mean pixel (104, 117, 123 in B, G, R), the folded one pads the torchvision input
with 0, ImageNet's mean pixel (103.5, 116.3, 123.7 in B, G, R). The border outputs of the first
convolution differ by W times that difference (under one grey level), and it travels to the logits.
`measure_fold_error` measures it on a natural-looking image.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..caffe import caffe_pb2
from ..errors import ConvertError
from ..graph import Layer, Net
from .class_order import last_inner_product
from .notes import edit, proto_layer

SPACES = ("caffe", "torchvision")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
ADAPTER_SUFFIX = "/torchvision_to_caffe"


@dataclass(frozen=True)
class Convention:
    name: str
    channel_order: str  # "BGR" or "RGB"
    mean: tuple[float, float, float]  # of p in [0, 1], in channel_order
    std: tuple[float, float, float]

    def describe(self) -> str:
        if self.name == "caffe":
            mean = ", ".join(f"{255 * m:g}" for m in self.mean)
            return f"caffe: BGR, 0-255, minus ({mean})"
        return f"{self.name}: {self.channel_order}, [0, 1], normalised with mean {self.mean} and std {self.std}"


def convention(space: str, mean_bgr: tuple[float, ...] | None) -> Convention:
    """The convention `space` ("caffe" or "torchvision"); caffe's mean comes from the prototxt."""
    if space == "torchvision":
        return Convention("torchvision", "RGB", IMAGENET_MEAN, IMAGENET_STD)
    if space != "caffe":
        raise ConvertError(f"input space must be one of {', '.join(SPACES)}, got '{space}'")
    if mean_bgr is None or len(mean_bgr) != 3:
        raise ConvertError("the prototxt states no 3-channel mean (e.g. '# mean_value: 104, 117, 123'), so its Caffe input convention is unknown")
    return Convention("caffe", "BGR", tuple(m / 255 for m in mean_bgr), (1 / 255,) * 3)


def affine(source: Convention, target: Convention) -> tuple[np.ndarray, np.ndarray]:
    """(A, b), float64, with target input = A @ source input + b per pixel."""
    a, b = np.zeros((3, 3)), np.zeros(3)
    for k, colour in enumerate(target.channel_order):
        j = source.channel_order.index(colour)
        a[k, j] = source.std[j] / target.std[k]
        b[k] = (source.mean[j] - target.mean[k]) / target.std[k]
    return a, b


def to_input(image: np.ndarray, conv: Convention) -> np.ndarray:
    """An H x W x 3 RGB uint8 image as a 1 x 3 x H x W float32 input in `conv`, computed in float64."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError("expected an H x W x 3 RGB uint8 image")
    p = image.astype(np.float64) / 255
    p = p[..., ["RGB".index(c) for c in conv.channel_order]]
    x = (p - np.array(conv.mean)) / np.array(conv.std)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)


# ---- the adapter, as a Caffe layer in front --------------------------------------------------


def _single_input(net: Net) -> tuple[str, tuple[int, ...]]:
    if len(net.inputs) != 1:
        raise ConvertError(f"net '{net.name}' has {len(net.inputs)} inputs; an input space applies to a single image input")
    name, shape = next(iter(net.inputs.items()))
    if len(shape) != 4 or shape[1] != 3:
        raise ConvertError(f"net '{net.name}': input '{name}' is {shape}, not N x 3 x H x W")
    return name, shape


def add_adapter(net: Net, space: str) -> Net:
    """`net` taking inputs in `space`: a 1x1 Convolution `<input>/torchvision_to_caffe` maps them
    exactly to the prototxt's Caffe convention. space "caffe" returns `net` itself."""
    if space == "caffe":
        return net
    source, caffe = convention(space, None), convention("caffe", net.mean_bgr)
    data, _ = _single_input(net)
    name, top = data + ADAPTER_SUFFIX, data + "/caffe"
    if any(layer.name == name for layer in net.layers) or top in net.blob_of:
        raise ConvertError(f"net '{net.name}' already has a layer '{name}' or blob '{top}'")
    writes_input = [layer for layer in net.layers if data in layer.caffe_tops]
    if writes_input:
        raise ConvertError(f"{writes_input[0].where()}: writes the input blob '{data}' in place; cannot put an adapter in front")
    a, b = affine(source, caffe)
    blobs = [a.reshape(3, 3, 1, 1).astype(np.float32), b.astype(np.float32)]

    def change(proto: caffe_pb2.NetParameter):
        adapter = caffe_pb2.LayerParameter(name=name, type="Convolution", bottom=[data], top=[top])
        adapter.convolution_param.num_output = 3
        adapter.convolution_param.kernel_size.append(1)
        layers = []
        for layer in proto.layer:
            layer.bottom[:] = [top if blob == data else blob for blob in layer.bottom]
            _forget_mean(layer)
            layers.append(layer)
        # Right after the layer (or legacy `input:` field) that defines the input.
        at = next((i + 1 for i, layer in enumerate(layers) if data in layer.top), 0)
        del proto.layer[:]
        proto.layer.extend([*layers[:at], adapter, *layers[at:]])
        return {name: blobs}

    what = f"{source.describe()}; layer '{name}' maps it exactly to the prototxt's convention ({caffe.describe()})"
    return edit(net, change, "input-space", what, drop_comment=lambda line: "mean_value" in line)


def _forget_mean(layer: caffe_pb2.LayerParameter) -> None:
    # A data layer's mean no longer describes what the net takes.
    if layer.HasField("transform_param"):
        layer.transform_param.ClearField("mean_value")


# ---- folding into the first convolution ---------------------------------------------------


def first_convolution(net: Net) -> Layer:
    """The Convolution that reads the image: the only layer reading the only input."""
    data, _ = _single_input(net)
    readers = [layer for layer in net.layers if data in layer.bottoms]
    if len(readers) != 1 or readers[0].type != "Convolution":
        found = ", ".join(layer.where() for layer in readers) or "nothing"
        raise ConvertError(f"net '{net.name}': folding an input convention needs one Convolution reading '{data}', found {found}")
    conv = readers[0]
    if conv.param.convolution_param.group != 1:
        raise ConvertError(f"{conv.where()}: a grouped first convolution mixes no channels; folding needs group 1")
    return conv


def fold_weights(weight: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(W', offset): conv(W, A t + b) = conv(W', t) + offset wherever W reads no padding.
    W' is float32; the per-output-channel offset stays float64 for the caller to add."""
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 4 or w.shape[1] != 3:
        raise ValueError(f"expected an O x 3 x kh x kw weight, got {w.shape}")
    folded = np.einsum("okuv,kj->ojuv", w, a)
    offset = np.einsum("okuv,k->o", w, b)
    return folded.astype(np.float32), offset


def pads(layer: Layer) -> tuple[int, ...]:
    return tuple(layer.setup.params.pad)


def fold(net: Net, space: str) -> Net:
    """`net` taking `space` inputs with the conversion folded into its first convolution, which gains a
    bias. Exact except where that convolution reads its zero padding (see the module docstring)."""
    if space == "caffe":
        return net
    source, caffe = convention(space, None), convention("caffe", net.mean_bgr)
    conv = first_convolution(net)
    a, b = affine(source, caffe)
    weight, offset = fold_weights(conv.blobs[0], a, b)
    bias = offset if len(conv.blobs) < 2 else conv.blobs[1].astype(np.float64) + offset

    def change(proto):
        proto_layer(proto, conv).convolution_param.bias_term = True
        for layer in proto.layer:
            _forget_mean(layer)
        return {conv.name: [weight, bias.astype(np.float32)]}

    what = (
        f"{source.describe()}; folded into '{conv.name}' (exact except where it reads its zero padding "
        f"{'x'.join(map(str, pads(conv)))}: padding now stands for ImageNet's mean pixel instead of the prototxt's)"
    )
    return edit(net, change, "input-space", what, drop_comment=lambda line: "mean_value" in line)


# ---- measuring the folding error ------------------------------------------------------------


def natural_image(size: int = 224, seed: int = 0) -> np.ndarray:
    """A natural-looking size x size RGB uint8 image: Gaussian fields with the 1/f amplitude spectrum
    of natural images, channels correlated like photographs (a shared luminance field plus weaker
    colour fields), ImageNet's per-channel mean and contrast. Seeded; no photograph ships with the
    package. Any photograph can be measured instead (scripts/measure_fold_error.py --image)."""
    rng = np.random.default_rng(seed)
    fy, fx = np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij")
    f = np.hypot(fy, fx)
    f[0, 0] = 1 / size

    def field() -> np.ndarray:
        spectrum = (rng.standard_normal((size, size)) + 1j * rng.standard_normal((size, size))) / f
        x = np.fft.ifft2(spectrum).real
        return (x - x.mean()) / x.std()

    lum, c1, c2 = field(), field(), field()
    rgb = np.stack([lum + 0.3 * c1, lum - 0.15 * c1 + 0.2 * c2, lum - 0.3 * c2], axis=-1)
    rgb = np.array(IMAGENET_MEAN) + np.array(IMAGENET_STD) * rgb / rgb.std(axis=(0, 1))
    return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def compare(reference: np.ndarray, other: np.ndarray) -> dict:
    """Logit differences, as the README reports them."""
    reference, other = np.asarray(reference, np.float64).ravel(), np.asarray(other, np.float64).ravel()
    delta = np.abs(reference - other).max()
    scale = np.abs(reference).max()
    top5 = lambda x: set(np.argsort(-x)[:5].tolist())
    return {
        "max_abs": float(delta),
        "max_abs_logit": float(scale),
        "relative": float(delta / scale) if scale else float(delta),
        "top1_same": bool(reference.argmax() == other.argmax()),
        "top5_overlap": len(top5(reference) & top5(other)),
    }


def measure_fold_error(net: Net, image: np.ndarray | None = None, space: str = "torchvision") -> dict:
    """The folded net on `image` in `space` against the net on the same image in Caffe's convention
    (computed exactly from the uint8 pixels), at the classifier's logits. Default image: natural_image()."""
    import torch

    from ..to_torch import module_for

    described = "natural_image(224, seed 0)" if image is None else f"a {image.shape[1]}x{image.shape[0]} image"
    image = natural_image() if image is None else image
    logits = [last_inner_product(net).caffe_tops[0]]
    caffe = convention("caffe", net.mean_bgr)
    with torch.no_grad():
        exact = module_for(net, logits)(torch.from_numpy(to_input(image, caffe))).numpy()
        folded = module_for(fold(net, space), logits)(torch.from_numpy(to_input(image, convention(space, None)))).numpy()
    return {**compare(exact, folded), "space": space, "image": described}
