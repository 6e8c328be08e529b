"""Fields that Caffe forks add to LayerParameter, declared at run time by plugins.

A fork's prototxt carries its layers' parameters under fields BVLC's schema lacks (SSD's
`norm_param = 206`, ShuffleNet's `shuffle_channel_param = 164`). A plugin declares the field's
message (`declare_parameter`); the schema is then rebuilt in a descriptor pool of its own as
BVLC's plus the declared fields, and prototxts are parsed with it. Everything else keeps using the
generated caffe_pb2 classes: the parsed net is handed over as caffe_pb2 messages, which keep the
fork's fields as unknown fields (protobuf preserves them byte for byte), and `ParameterField.of`
reads them back typed, with the declared defaults. A caffemodel needs nothing: its layers' small
messages are parsed with caffe_pb2, which keeps the unknown fields the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message, message_factory

from . import caffe_pb2

F = descriptor_pb2.FieldDescriptorProto
PACKAGE = "senet_convert.caffe"
SCALARS = {
    "double": F.TYPE_DOUBLE, "float": F.TYPE_FLOAT, "int32": F.TYPE_INT32, "int64": F.TYPE_INT64,
    "uint32": F.TYPE_UINT32, "uint64": F.TYPE_UINT64, "bool": F.TYPE_BOOL, "string": F.TYPE_STRING,
}


@dataclass(frozen=True)
class Field:
    """One field of a plugin's parameter message (proto2): a scalar type name, a Caffe message name
    ("FillerParameter", "BlobShape"), or an enum given as {"NAME": number}."""

    name: str
    type: str | dict[str, int]
    number: int
    default: Any = None
    repeated: bool = False


@dataclass(frozen=True)
class ParameterField:
    """A declared LayerParameter field: `of(layer)` gives the layer's typed message."""

    field: str
    number: int
    message: str

    def of(self, layer) -> Any:
        """The layer's message (a graph.Layer or a LayerParameter), with the declared defaults."""
        return getattr(self._extended(layer), self.field)

    def has(self, layer) -> bool:
        return self._extended(layer).HasField(self.field)

    @staticmethod
    def _extended(layer):
        param = layer if isinstance(layer, message.Message) else layer.param
        extended = _state.classes()[1]()
        extended.ParseFromString(param.SerializeToString())
        return extended


class _State:
    def __init__(self) -> None:
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.fields: dict[str, ParameterField] = {}
        self._classes = None

    def classes(self):
        """(NetParameter, LayerParameter) classes of the extended schema (caffe_pb2's without fields)."""
        if not self.fields:
            return caffe_pb2.NetParameter, caffe_pb2.LayerParameter
        if self._classes is None:
            self._classes = _build(list(self.messages.values()), list(self.fields.values()))
        return self._classes


_state = _State()


def _builtin_numbers() -> dict[int, str]:
    return {f.number: f.name for f in caffe_pb2.LayerParameter.DESCRIPTOR.fields}


def _field_proto(field: Field, message: descriptor_pb2.DescriptorProto) -> F:
    proto = F(name=field.name, number=field.number, label=F.LABEL_REPEATED if field.repeated else F.LABEL_OPTIONAL)
    if isinstance(field.type, dict):
        enum = message.enum_type.add(name="".join(part.title() for part in field.name.split("_")))
        for name, number in field.type.items():
            enum.value.add(name=name, number=number)
        proto.type, proto.type_name = F.TYPE_ENUM, f".{PACKAGE}.{message.name}.{enum.name}"
    elif field.type in SCALARS:
        proto.type = SCALARS[field.type]
    elif field.type in caffe_pb2.DESCRIPTOR.message_types_by_name:
        proto.type, proto.type_name = F.TYPE_MESSAGE, f".{PACKAGE}.{field.type}"
    else:
        raise ValueError(f"field '{field.name}': type {field.type!r} is not a scalar type, a Caffe message or an enum")
    if field.default is not None:
        if proto.type == F.TYPE_MESSAGE or field.repeated:
            raise ValueError(f"field '{field.name}': only singular scalar and enum fields take a default")
        proto.default_value = str(field.default).lower() if isinstance(field.default, bool) else str(field.default)
    return proto


def declare_parameter(message: str, *, field: str, number: int, fields: list[Field]) -> ParameterField:
    """Add `optional <message> <field> = <number>;` to LayerParameter, `message` made of `fields`."""
    taken = _builtin_numbers()
    if number in taken:
        raise ValueError(f"LayerParameter field number {number} is BVLC Caffe's '{taken[number]}'")
    if field in caffe_pb2.LayerParameter.DESCRIPTOR.fields_by_name:
        raise ValueError(f"LayerParameter already has a field named '{field}'")
    for other in _state.fields.values():
        if other.number == number or other.field == field:
            raise ValueError(f"LayerParameter field '{field}' = {number} clashes with a plugin's '{other.field}' = {other.number}")
    if message in caffe_pb2.DESCRIPTOR.message_types_by_name or message in _state.messages:
        raise ValueError(f"a message named '{message}' already exists")
    proto = descriptor_pb2.DescriptorProto(name=message)
    proto.field.extend(_field_proto(f, proto) for f in fields)
    declared = ParameterField(field, number, message)
    classes = _build([*_state.messages.values(), proto], [*_state.fields.values(), declared])  # fails before changing state
    _state.messages[message], _state.fields[field] = proto, declared
    _state._classes = classes
    return declared


def _build(messages, fields: list[ParameterField]):
    schema = descriptor_pb2.FileDescriptorProto()
    caffe_pb2.DESCRIPTOR.CopyToProto(schema)
    schema.message_type.extend(messages)
    layer = next(m for m in schema.message_type if m.name == "LayerParameter")
    for declared in fields:
        layer.field.add(name=declared.field, number=declared.number, label=F.LABEL_OPTIONAL, type=F.TYPE_MESSAGE,
                        type_name=f".{PACKAGE}.{declared.message}")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(schema)
    find = pool.FindMessageTypeByName
    return (message_factory.GetMessageClass(find(f"{PACKAGE}.NetParameter")),
            message_factory.GetMessageClass(find(f"{PACKAGE}.LayerParameter")))


def net_parameter_class():
    """The NetParameter class prototxts are parsed with: caffe_pb2's, or the extended one."""
    return _state.classes()[0]


def declared_fields() -> dict[str, ParameterField]:
    return dict(_state.fields)
