"""The labelling config: its tag names and types, and the types a project shares with the model."""

from __future__ import annotations

import pytest

from label_studio_fixtures import CONLL04_TYPES, LABEL_CONFIG
from spert.integrations.label_studio.label_config import LabelConfigError, parse_label_config, type_mapping


def test_label_config_names_tags_and_types():
    config = parse_label_config(LABEL_CONFIG)
    assert (config.from_name, config.to_name, config.text_key) == ("label", "text", "text")
    assert config.entity_types == tuple(CONLL04_TYPES["entities"])
    assert config.relation_types == tuple(CONLL04_TYPES["relations"])
    for bad in ("", "<View>", "<View><Text name='t' value='$x'/></View>", 5,
                "<View><Labels name='l' toName='t'/><Text name='t' value='plain'/></View>"):
        with pytest.raises(LabelConfigError):
            parse_label_config(bad)


def test_type_mapping_both_ways():
    config = parse_label_config(LABEL_CONFIG.replace("<Label value=\"Other\"/>", "<Label value=\"Drug\"/>"))
    m = type_mapping(config, list(CONLL04_TYPES["entities"]), ["Kill"])
    assert "Other" not in m.entity_types and "Drug" not in m.entity_types
    assert m.missing[0] == "entity Drug" and "relation Work_For" in m.missing
    assert m.left_out == ("entity Other",)
