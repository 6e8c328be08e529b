"""global-pool: the final fixed-size AVE Pooling made global, a recorded deviation from the prototxt."""
from __future__ import annotations

from ..caffe import caffe_pb2
from ..errors import ConvertError
from ..graph import Net
from .notes import edit, proto_layer

# ---- global pooling ----------------------------------------------------------------------


def global_pool(net: Net) -> Net:
    """The last Pooling layer (an AVE pool over the whole input at the prototxt's size) made global.

    A net whose last Pooling is already global comes back unchanged.
    """
    pools = [layer for layer in net.layers if layer.type == "Pooling"]
    if not pools:
        raise ConvertError(f"net '{net.name}' has no Pooling layer to make global")
    pool = pools[-1]
    p = pool.param.pooling_param
    if p.global_pooling:
        return net
    if p.pool != caffe_pb2.PoolingParameter.AVE:
        raise ConvertError(f"{pool.where()}: --global-pool replaces a final average pool, this one is {caffe_pb2.PoolingParameter.PoolMethod.Name(p.pool)}")
    height, width = net.shapes[pool.bottoms[0]][2:]
    kernel, pad = pool.setup.params.kernel, pool.setup.params.pad
    if kernel is not None and tuple(kernel) != (height, width) or any(pad):
        raise ConvertError(
            f"{pool.where()}: --global-pool needs the last pooling to cover its whole {height}x{width} input "
            f"(kernel {kernel[0]}x{kernel[1]}, pad {pad[0]}), so that making it global changes nothing at the prototxt's size"
        )

    def change(proto):
        q = proto_layer(proto, pool).pooling_param
        for field in ("kernel_size", "kernel_h", "kernel_w", "stride", "stride_h", "stride_w", "pad", "pad_h", "pad_w"):
            q.ClearField(field)
        q.global_pooling = True
        return {}

    size = "x".join(str(d) for d in next(iter(net.inputs.values()))[2:])
    what = (
        f"layer '{pool.name}' averages globally instead of over its fixed {height}x{width} kernel "
        f"(same result at the prototxt's {size} input; other input sizes have no Caffe reference)"
    )
    return edit(net, change, "global-pool", what)
