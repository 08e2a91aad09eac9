"""The backbone registry: every entry builds, counts match, blocks are found."""

import pytest

from tl_core import backbones
from tl_core.errors import ConfigError, WeightsError

EXPECTED_NAMES = {
    "mobilenet", "mobilenet_v2", "efficientnet_lite0", "mobilenet_v3_small",
    "efficientnet_b0", "resnet50", "vgg16",
}


def test_registry_lists_required_backbones():
    assert EXPECTED_NAMES <= set(backbones.BACKBONES)


def test_three_backbones_have_offline_weights():
    offline = {name for name, spec in backbones.BACKBONES.items() if spec.weight_source == backbones.OFFLINE}
    assert offline == {"mobilenet", "mobilenet_v2", "efficientnet_lite0"}


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_scratch_build_matches_registry(name):
    spec = backbones.get_backbone(name)
    model = backbones.build_backbone(name, 64, pretrained=False)
    assert model.count_params() == spec.params
    assert model.output.shape[-1] == spec.feature_dim
    blocks = {spec.block_of(layer.name) for layer in model.layers if layer.weights}
    assert len(blocks - {"stem", "head"}) >= 3


def test_unknown_backbone_lists_choices():
    with pytest.raises(ConfigError, match="mobilenet_v2"):
        backbones.get_backbone("alexnet")


def test_image_size_below_minimum_rejected():
    with pytest.raises(ConfigError, match="at least 32"):
        backbones.build_backbone("mobilenet_v2", 16, pretrained=False)


def test_keras_weights_offline_offer_scratch(monkeypatch, tmp_path):
    from keras.src.utils import file_utils

    def refuse_download(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(file_utils, "get_file", refuse_download)
    assert backbones.weights_available("resnet50") is False
    with pytest.raises(WeightsError, match="from scratch"):
        backbones.build_backbone("resnet50", 64, pretrained=True)


def test_offline_weights_missing_offer_scratch(monkeypatch, tmp_path):
    monkeypatch.setenv("TL_WEIGHTS_DIR", str(tmp_path))
    assert backbones.weights_available("mobilenet_v2") is False
    with pytest.raises(WeightsError, match="weights fetch"):
        backbones.build_backbone("mobilenet_v2", 64, pretrained=True)
