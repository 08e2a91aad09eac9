"""Convert the EfficientNet-Lite0 state dict to `tl_core.nets.efficientnet_lite`.

The `.pth` file uses the names of the `efficientnet_lite_pytorch` package:
`_conv_stem`/`_bn0` for the stem, `_blocks.<i>` for the 16 MBConv blocks,
`_conv_head`/`_bn1` for the head and `_fc` for the classifier. Inside a
block, `_bn0`, `_bn1` and `_bn2` follow the expansion, depthwise and
projection convolutions. The first block has no expansion.
"""

import logging
import time
from pathlib import Path

import numpy as np

from tl_core.weights import store
from tl_core.weights.torch_pickle import TensorTaker, check_weights_fit_model, load_state_dict

logger = logging.getLogger(__name__)


def convert(pth_path: Path, out_path: Path) -> None:
    """Convert the `.pth` state dict at `pth_path` into a layer-weights file at `out_path`.

    The file covers the 1000-class ImageNet top ("predictions") as well, so it
    fills models built with or without the top. Raises WeightsError when the
    state dict does not map one to one onto the Keras layers.
    """
    from tl_core.nets import efficientnet_lite

    pth_path, out_path = Path(pth_path), Path(out_path)
    started = time.perf_counter()
    tensors = TensorTaker(load_state_dict(pth_path), pth_path)
    weights = _map_layers(tensors, efficientnet_lite)
    tensors.check_all_taken()

    model = efficientnet_lite.build(include_top=True)
    check_weights_fit_model(weights, model, pth_path)
    store.save_layer_weights(weights, out_path)
    logger.info(
        "Converted %s to %s: %d layers, %d parameters, %.1f s",
        pth_path.name,
        out_path,
        len(weights),
        sum(int(np.prod(a.shape)) for arrays in weights.values() for a in arrays),
        time.perf_counter() - started,
    )


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
