"""The config: presets are valid and follow the published figures, JSON round-trips, and every
kind of bad value is rejected with a message naming the field."""

import json

import pytest

from tatami.config import PRESETS, ConfigError, TatamiConfig, load_config, preset


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_round_trips_through_json(name, tmp_path):
    cfg = preset(name)
    assert TatamiConfig.from_json(cfg.to_json()) == cfg
    path = tmp_path / "c.json"
    path.write_text(cfg.to_json())
    assert load_config(str(path)) == cfg
    assert load_config(str(path)).digest() == cfg.digest()


def test_d1_follows_published_per_cycle_figures():
    cfg = preset("d1")
    assert cfg.node.vector.vlen_bits == 512
    assert cfg.node.matrix.macs_per_cycle == 256
    assert (cfg.node.matrix.m, cfg.node.matrix.n, cfg.node.matrix.k) == (8, 8, 4)
    assert cfg.noc.flit_bytes == 64
    assert cfg.node.sram.size_bytes == 1_310_720  # 1.25 MiB
    assert cfg.node.sram.word_bits == 512
    assert (cfg.node.sram.load_ports, cfg.node.sram.store_ports) == (2, 1)
    assert (cfg.mesh.width, cfg.mesh.height) == (18, 20)
    assert cfg.node.core.threads == 4
    harvested = cfg.replace(**{"mesh.dead_nodes": ((0, 0 + 1), (5, 5), (17, 19), (3, 9), (9, 3), (12, 12))})
    assert harvested.mesh.live_count == 354


def test_digest_changes_with_any_field():
    a = preset("tiny")
    assert a.digest() != a.replace(**{"noc.vc_depth": 3}).digest()
    assert a.digest() == preset("tiny").digest()


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("mesh.width", 0, "at least 1"),
        ("mesh.height", 65, "at most 64"),
        ("mesh.width", 2.5, "must be an integer"),
        ("mesh.dead_nodes", ((5, 5),), "is not a node"),
        ("mesh.dead_nodes", ((1, 1), (1, 1)), "twice"),
        ("mesh.dead_links", (((0, 0), (1, 1)),), "not a link between neighbouring nodes"),
        ("mesh.dead_nodes", ((0, 0),), "host bridge cannot attach to a dead node"),
        ("noc.flit_bits", 64, "at least 128"),
        ("noc.flit_bits", 200, "multiple of 64"),
        ("noc.vcs", 3, "must be even"),
        ("noc.vcs", 1, "at least 2"),
        ("noc.routing", "random", "'xy' or 'table'"),
        ("noc.max_packet_flits", 65, "at most 64"),
        ("node.sram.size_bytes", 1000, "not a whole number of banks"),
        ("node.sram.banks", 3, "power of two"),
        ("node.sram.word_bits", 96, "power of two"),
        ("node.core.threads", 5, "at most 4"),
        ("node.core.reset_pc", 0x80000002, "not 4-byte aligned"),
        ("node.matrix.m", 3, "power of two"),
        ("node.matrix.formats", ("fp64",), "unknown input format"),
        ("node.vector.vlen_bits", 4096, "at most 2048"),
        ("node.fpu.convert_stages", 0, "at least 1"),
        ("node.fpu.convert_stages", 9, "at most 8"),
        ("clock_hz", 10, "at least"),
    ],
)
def test_bad_field_is_named(field, value, message):
    with pytest.raises(ConfigError, match=message) as info:
        preset("tiny").replace(**{field: value})
    # The error names the field (the host position for a dead host node, the field itself otherwise).
    named = info.value.field
    assert field.split(".")[-1] in named or (named == "mesh.host_x" and field == "mesh.dead_nodes")
    assert f"config field '{named}'" in str(info.value)


def test_mesh_with_every_node_dead_is_rejected():
    with pytest.raises(ConfigError, match=r"host bridge|every node"):
        preset("tiny").replace(**{"mesh.width": 1, "mesh.height": 1, "mesh.dead_nodes": ((0, 0),)})


def test_cross_field_check_vector_wider_than_sram_access():
    with pytest.raises(ConfigError, match="vlen_bits"):
        preset("tiny").replace(**{"node.vector.vlen_bits": 1024})


def test_unknown_fields_and_bad_json_are_named(tmp_path):
    data = preset("tiny").to_dict()
    data["noc"]["vc_count"] = 4
    with pytest.raises(ConfigError, match=r"noc\.vc_count.*unknown field"):
        TatamiConfig.from_dict(data)
    with pytest.raises(ConfigError, match="not valid JSON"):
        TatamiConfig.from_json("{nope")
    with pytest.raises(ConfigError, match="must be an object"):
        TatamiConfig.from_dict({"noc": 5})
    with pytest.raises(ConfigError, match="unknown preset 'd2'"):
        load_config("d2")
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(str(tmp_path / "missing.json"))
    with pytest.raises(ConfigError, match="unknown field"):
        preset("tiny").replace(**{"noc.nope": 1})


def test_json_is_plain_and_sorted():
    data = json.loads(preset("d1").to_json())
    assert data["node"]["matrix"] == {"m": 8, "n": 8, "k": 4, "formats": ["bf16", "cf8"]}
