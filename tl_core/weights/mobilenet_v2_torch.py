"""Convert torchvision's ImageNet MobileNetV2 state dict to `tl_core.nets.mobilenet_v2`.

torchvision names the layers `features.<i>...` and `classifier.1`:
`features.0` is the stem, `features.1` to `features.17` are the inverted
residual blocks, and `features.18` is the 1280-channel head convolution.
"""

from pathlib import Path

import numpy as np

from tl_core.weights.torch_layout import TensorTaker, convert_state_dict


def convert(pth_path: Path, out_path: Path) -> None:
    """Convert the `.pth` state dict at `pth_path` into a layer-weights file at `out_path`."""
    from tl_core.nets import mobilenet_v2

    convert_state_dict(pth_path, out_path, mobilenet_v2, _map_layers)


def _map_layers(tensors: TensorTaker, net) -> dict[str, list[np.ndarray]]:
    weights = {
        "Conv1": tensors.conv2d("features.0.0"),
        "bn_Conv1": tensors.batch_norm("features.0.1"),
    }

    block_id = 0
    for expansion, _channels, repeats, _stride in net.STAGES:
        for _ in range(repeats):
            prefix = net.block_prefix(block_id)
            source = f"features.{block_id + 1}.conv"
            # torchvision's block is a Sequential. Without an expansion, its
            # depthwise stage moves from index 1 to index 0.
            if expansion != 1:
                weights[f"{prefix}expand"] = tensors.conv2d(f"{source}.0.0")
                weights[f"{prefix}expand_BN"] = tensors.batch_norm(f"{source}.0.1")
                depthwise, project = 1, 2
            else:
                depthwise, project = 0, 1
            weights[f"{prefix}depthwise"] = tensors.depthwise_conv2d(f"{source}.{depthwise}.0")
            weights[f"{prefix}depthwise_BN"] = tensors.batch_norm(f"{source}.{depthwise}.1")
            weights[f"{prefix}project"] = tensors.conv2d(f"{source}.{project}")
            weights[f"{prefix}project_BN"] = tensors.batch_norm(f"{source}.{project + 1}")
            block_id += 1

    head = f"features.{block_id + 1}"
    weights["Conv_1"] = tensors.conv2d(f"{head}.0")
    weights["Conv_1_bn"] = tensors.batch_norm(f"{head}.1")
    weights["predictions"] = tensors.dense("classifier.1")
    return weights
