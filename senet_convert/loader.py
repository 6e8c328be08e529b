"""prototxt (+ caffemodel) -> Net: phase filtering, the three input forms, in-place renaming,
shape inference and weight matching, with every problem reported against file and layer.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from .caffe import caffe_pb2
from .caffe.caffemodel import read_caffemodel
from .caffe.layers import SPECS, LayerError, set_up
from .caffe.layers.registry import check_shape
from .caffe.prototxt import layer_lines, mean_from_comment, parse_net, read_text
from .caffe.sources import check_sources
from .caffe.upgrade import upgrade_net
from .caffe.weights import attach_weights, fill_weights
from .errors import ConvertError, UnsupportedLayers
from .graph import Layer, Net, Shape

# Layers that only matter for training or for reading datasets: dropped from the graph.
__all__ = ["DATA_TYPES", "SKIPPED_TYPES", "attach_weights", "build_graph", "fill_weights", "load_net", "net_from_text", "supported_types"]

SKIPPED_TYPES = frozenset(
    {
        "Accuracy",
        "ContrastiveLoss",
        "EuclideanLoss",
        "HingeLoss",
        "InfogainLoss",
        "MultinomialLogisticLoss",
        "SigmoidCrossEntropyLoss",
        "Silence",
        "SoftmaxWithLoss",
    }
)
DATA_TYPES = frozenset({"Data", "ImageData", "HDF5Data", "WindowData", "MemoryData", "DummyData"})


def supported_types() -> list[str]:
    return sorted(["Input", *SPECS])


def _meets_rule(rule: caffe_pb2.NetStateRule, state: caffe_pb2.NetState) -> bool:
    # Caffe's Net::StateMeetsRule.
    if rule.HasField("phase") and rule.phase != state.phase:
        return False
    if rule.HasField("min_level") and state.level < rule.min_level:
        return False
    if rule.HasField("max_level") and state.level > rule.max_level:
        return False
    if any(stage not in state.stage for stage in rule.stage):
        return False
    if any(stage in state.stage for stage in rule.not_stage):
        return False
    return True


def _included(layer: caffe_pb2.LayerParameter, state: caffe_pb2.NetState) -> bool:
    if layer.include:
        return any(_meets_rule(r, state) for r in layer.include)
    return not any(_meets_rule(r, state) for r in layer.exclude)


def _checked_input(shape, where: str, batch: int | None) -> Shape:
    shape = tuple(int(d) for d in shape)
    if batch is not None and shape:
        shape = (batch, *shape[1:])
    try:
        return check_shape(shape, where)
    except LayerError as exc:
        raise ConvertError(str(exc)) from None


def _net_inputs(proto: caffe_pb2.NetParameter, path, batch) -> dict[str, Shape]:
    """The legacy `input:` forms (with `input_shape` or four `input_dim` per input)."""
    inputs: dict[str, Shape] = {}
    if not proto.input:
        if proto.input_shape or proto.input_dim:
            raise ConvertError(f"{path}: input_shape/input_dim given without an input name")
        return inputs
    if proto.input_shape:
        if len(proto.input_shape) != len(proto.input):
            raise ConvertError(f"{path}: {len(proto.input)} inputs but {len(proto.input_shape)} input_shape entries")
        dims = [list(s.dim) for s in proto.input_shape]
    elif proto.input_dim:
        if len(proto.input_dim) != 4 * len(proto.input):
            raise ConvertError(f"{path}: {len(proto.input)} inputs need {4 * len(proto.input)} input_dim values, got {len(proto.input_dim)}")
        dims = [list(proto.input_dim[4 * i : 4 * i + 4]) for i in range(len(proto.input))]
    else:
        raise ConvertError(f"{path}: input '{proto.input[0]}' has no input_shape or input_dim")
    for name, shape in zip(proto.input, dims):
        inputs[name] = _checked_input(shape, f"{path}: input '{name}'", batch)
    return inputs


def _data_layer_shapes(layer: caffe_pb2.LayerParameter) -> list[Shape] | None:
    if layer.type == "DummyData":
        p = layer.dummy_data_param
        if p.shape:
            return [tuple(s.dim) for s in p.shape]
        return [(n, c, h, w) for n, c, h, w in zip(p.num, p.channels, p.height, p.width)] or None
    if layer.type == "MemoryData":
        p = layer.memory_data_param
        return [(p.batch_size, p.channels, p.height, p.width), (p.batch_size,)]
    return None


class _Builder:
    def __init__(self, path: Path, batch: int | None):
        self.path = path
        self.batch = batch
        self.current: dict[str, str] = {}  # Caffe blob -> its current value
        self.shapes: dict[str, Shape] = {}
        self.blob_of: dict[str, str] = {}
        self.inputs: dict[str, Shape] = {}
        self.layers: list[Layer] = []
        self.names: set[str] = set()

    def where(self, name: str, type_: str, line: int | None) -> str:
        at = f"{self.path}:{line}" if line else str(self.path)
        return f"{at}: layer '{name}' ({type_})"

    def add_input(self, blob: str, shape: Shape):
        if blob in self.current:
            raise ConvertError(f"{self.path}: input '{blob}' is defined twice")
        self.current[blob] = blob
        self.shapes[blob] = shape
        self.blob_of[blob] = blob
        self.inputs[blob] = shape

    def define(self, blob: str, layer_name: str) -> str:
        if blob not in self.current and blob not in self.blob_of:
            value = blob
        else:
            value = f"{blob}@{layer_name}"
            k = 2
            while value in self.blob_of:
                value = f"{blob}@{layer_name}#{k}"
                k += 1
        self.blob_of[value] = blob
        return value

    def add(self, proto: caffe_pb2.LayerParameter, line: int | None):
        where = self.where(proto.name, proto.type, line)
        if proto.name in self.names:
            raise ConvertError(f"{where}: a second layer with this name")
        self.names.add(proto.name)
        try:
            bottoms = tuple(self.current[b] for b in proto.bottom)
        except KeyError as exc:
            raise ConvertError(f"{where}: bottom '{exc.args[0]}' is not produced by any earlier layer") from None
        try:
            setup = set_up(proto.type, proto, [self.shapes[b] for b in bottoms], proto.top)
        except LayerError as exc:
            raise ConvertError(f"{where}: {exc}") from None
        tops = tuple(self.define(t, proto.name) for t in proto.top)
        for blob, value, shape in zip(proto.top, tops, setup.tops):
            self.current[blob] = value
            self.shapes[value] = tuple(shape)
        param = caffe_pb2.LayerParameter()
        param.CopyFrom(proto)
        del param.blobs[:]
        self.layers.append(
            Layer(
                name=proto.name,
                type=proto.type,
                bottoms=bottoms,
                tops=tops,
                param=param,
                caffe_bottoms=tuple(proto.bottom),
                caffe_tops=tuple(proto.top),
                top_shapes=setup.tops,
                line=line,
                setup=setup,
            )
        )


def _outputs(layers: list[Layer], inputs: dict[str, Shape], final: dict[str, str]) -> list[str]:
    # Caffe's Net::Init: blobs produced and never consumed afterwards, in name order (a std::set).
    available: set[str] = set(inputs)
    for layer in layers:
        available.difference_update(layer.caffe_bottoms)
        available.update(layer.caffe_tops)
    return [final[blob] for blob in sorted(available)]


def _check_supported(proto, lines: list[int], state, path: Path, supported: set[str]) -> None:
    """Every layer type the net uses and nothing supports, in one error (not just the first)."""
    known = supported | SKIPPED_TYPES | DATA_TYPES | {"Input"}
    missing: dict[str, list] = {}
    for index, layer in enumerate(proto.layer):
        if layer.type not in known and _included(layer, state):
            line = lines[index] if index < len(lines) else None
            missing.setdefault(layer.type, [layer.type, 0, layer.name, line])[1] += 1
    if missing:
        raise UnsupportedLayers(path, [tuple(entry) for entry in missing.values()], supported_types())


def build_graph(proto: caffe_pb2.NetParameter, text: str, path: Path, batch: int | None) -> Net:
    lines = layer_lines(text)
    if proto.layers:
        upgrade_net(proto, path)
    state = caffe_pb2.NetState(phase=caffe_pb2.TEST)
    if proto.HasField("state"):
        state.MergeFrom(proto.state)
        state.phase = caffe_pb2.TEST
    builder = _Builder(path, batch)
    for name, shape in _net_inputs(proto, path, batch).items():
        builder.add_input(name, shape)
    included = [(index, layer) for index, layer in enumerate(proto.layer) if _included(layer, state)]
    line_of = [lines[index] if index < len(lines) else None for index, _ in included]
    check_sources(list(proto.input), [layer for _, layer in included],
                  lambda i: builder.where(included[i][1].name, included[i][1].type, line_of[i]))
    _check_supported(proto, lines, state, path, set(SPECS))
    skipped_blobs: set[str] = set()
    for (index, layer), line in zip(included, line_of):
        where = builder.where(layer.name, layer.type, line)
        if layer.type == "Input":
            shapes_ = [list(s.dim) for s in layer.input_param.shape]
            if len(shapes_) not in (1, len(layer.top)):
                raise ConvertError(f"{where}: {len(layer.top)} tops but {len(shapes_)} shapes")
            for i, top in enumerate(layer.top):
                builder.add_input(top, _checked_input(shapes_[0 if len(shapes_) == 1 else i], f"{where}: top '{top}'", batch))
            continue
        if layer.type in DATA_TYPES:
            data_shapes = _data_layer_shapes(layer)
            if data_shapes is None:
                raise ConvertError(f"{where}: reads a dataset, so its output shape is unknown; convert the deploy prototxt (with an Input layer) instead")
            for top, shape in zip(layer.top, data_shapes):
                builder.add_input(top, _checked_input(shape, f"{where}: top '{top}'", batch))
            continue
        if layer.type in SKIPPED_TYPES:
            skipped_blobs.update(layer.top)
            continue
        if any(b in skipped_blobs for b in layer.bottom):
            raise ConvertError(f"{where}: reads the output of a loss or accuracy layer")
        builder.add(layer, line)
    if not builder.inputs:
        raise ConvertError(f"{path}: the net declares no input (Input layer, input/input_shape or input_dim)")
    final = {builder.blob_of[v]: v for v in builder.current.values()}
    net = Net(
        name=proto.name,
        inputs=builder.inputs,
        layers=builder.layers,
        outputs=[],
        shapes=builder.shapes,
        blob_of=builder.blob_of,
        final=final,
        prototxt_text=text,
        prototxt_path=path,
    )
    # Unused inputs such as labels are dropped from the signature.
    used = {b for layer in net.layers for b in layer.bottoms}
    net.inputs = {k: v for k, v in net.inputs.items() if k in used} or net.inputs
    net.outputs = [v for v in _outputs(net.layers, net.inputs, final) if v not in net.inputs]
    net.mean_bgr = _mean_values(proto, text)
    return net


def _mean_values(proto: caffe_pb2.NetParameter, text: str):
    for layer in proto.layer:
        if layer.HasField("transform_param") and layer.transform_param.mean_value:
            return tuple(layer.transform_param.mean_value)
    return mean_from_comment(text)


def net_from_text(text: str, path: str | Path = "<prototxt>", *, batch: int | None = None) -> Net:
    """A Net from prototxt text (a checkpoint carries the text, not the file)."""
    if batch is not None and not 1 <= batch <= 1 << 16:
        raise ConvertError(f"batch size {batch} is out of range (1 to 65536)")
    return build_graph(parse_net(text, path), text, Path(path), batch)


def load_net(
    prototxt: str | Path,
    caffemodel: str | Path | None = None,
    *,
    batch: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Net:
    """Read a Caffe net. Without a caffemodel the layers carry no blobs (structure only)."""
    path = Path(prototxt)
    net = net_from_text(read_text(path), path, batch=batch)
    if caffemodel is not None:
        attach_weights(net, read_caffemodel(caffemodel, progress))
    return net
