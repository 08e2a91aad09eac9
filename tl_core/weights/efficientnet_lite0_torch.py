"""Convert the EfficientNet-Lite0 state dict to `tl_core.nets.efficientnet_lite`.

The `.pth` file uses the names of the `efficientnet_lite_pytorch` package:
`_conv_stem`/`_bn0` for the stem, `_blocks.<i>` for the 16 MBConv blocks,
`_conv_head`/`_bn1` for the head and `_fc` for the classifier. Inside a
block, `_bn0`, `_bn1` and `_bn2` follow the expansion, depthwise and
projection convolutions. The first block has no expansion.
"""

from pathlib import Path

import numpy as np

from tl_core.weights.torch_layout import TensorTaker, convert_state_dict


def convert(pth_path: Path, out_path: Path) -> None:
    """Convert the `.pth` state dict at `pth_path` into a layer-weights file at `out_path`."""
    from tl_core.nets import efficientnet_lite

    convert_state_dict(pth_path, out_path, efficientnet_lite, _map_layers)


def _map_layers(tensors: TensorTaker, net) -> dict[str, list[np.ndarray]]:
    weights = {
        "stem_conv": tensors.conv2d("_conv_stem"),
        "stem_bn": tensors.batch_norm("_bn0"),
    }

    expansions = [stage[3] for stage in net.STAGES for _ in range(stage[0])]
    for index, (prefix, expansion) in enumerate(zip(net.block_prefixes(), expansions, strict=True)):
        source = f"_blocks.{index}"
        if expansion != 1:
            weights[f"{prefix}expand_conv"] = tensors.conv2d(f"{source}._expand_conv")
            weights[f"{prefix}expand_bn"] = tensors.batch_norm(f"{source}._bn0")
        weights[f"{prefix}dwconv"] = tensors.depthwise_conv2d(f"{source}._depthwise_conv")
        weights[f"{prefix}bn"] = tensors.batch_norm(f"{source}._bn1")
        weights[f"{prefix}project_conv"] = tensors.conv2d(f"{source}._project_conv")
        weights[f"{prefix}project_bn"] = tensors.batch_norm(f"{source}._bn2")

    weights["top_conv"] = tensors.conv2d("_conv_head")
    weights["top_bn"] = tensors.batch_norm("_bn1")
    weights["predictions"] = tensors.dense("_fc")
    return weights
