"""``regsim image import``: OCI image layouts into a registry store or a scenario's image section."""

import json
from pathlib import Path

import pytest
import yaml

from regsim.cli import main
from regsim.registry.oci_layout import LayoutError, OciLayout, import_image, layer_sizes
from regsim.scenario.image_file import write_scenario_image
from regsim.registry.config import RegistryConfig
from regsim.registry.descriptors import OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST
from regsim.registry.errors import ConfigError
from regsim.registry.registry import Registry
from regsim.scenario import load_scenario

from .conftest import digest_of

LAYERS = [b"first layer " * 3000, b"second" * 50_000]


def _blob(root: Path, data: bytes) -> dict:
    d = digest_of(data)
    path = root / "blobs" / "sha256" / d.split(":")[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": d, "size": len(data)}


def _image(root: Path, layers: list[bytes], arch: str = "amd64") -> dict:
    config = json.dumps({"architecture": arch, "os": "linux"}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": OCI_CONFIG, **_blob(root, config)},
                           "layers": [{"mediaType": OCI_LAYER, **_blob(root, b)} for b in layers]}).encode()
    return {"mediaType": OCI_MANIFEST, **_blob(root, manifest)}


def make_layout(root: Path, refs: dict[str, list[bytes]] | None = None, *, multi: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    entries = []
    for ref, layers in (refs or {"v1": LAYERS}).items():
        desc = _image(root, layers)
        if multi:
            arm = _image(root, [b"arm layer"], arch="arm64")
            index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
                {**arm, "platform": {"os": "linux", "architecture": "arm64"}},
                {**desc, "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
            desc = {"mediaType": OCI_INDEX, **_blob(root, index)}
        entries.append({**desc, "annotations": {"org.opencontainers.image.ref.name": ref}})
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": entries}))
    return root


def test_layer_sizes_of_a_layout(tmp_path):
    layout = OciLayout(make_layout(tmp_path / "img"))
    assert layout.refs() == ["v1"]
    assert layer_sizes(layout) == [len(b) for b in LAYERS]


def test_multi_platform_index_picks_the_platform(tmp_path):
    layout = OciLayout(make_layout(tmp_path / "img", multi=True))
    assert layer_sizes(layout) == [len(b) for b in LAYERS]
    assert layer_sizes(layout, platform="linux/arm64") == [len(b"arm layer")]


def test_import_into_a_registry_then_pull(tmp_path):
    layout = OciLayout(make_layout(tmp_path / "img", multi=True))
    reg = Registry(RegistryConfig(codec="rs(4,2)", nodes=6, encryption="aes-256-gcm"))
    report = import_image(reg, layout, "team/app", "v1")
    assert report.manifest == layout.select().digest
    assert reg.get_manifest("team/app", "v1").digest == report.manifest
    stored = reg.get_manifest("team/app", "v1")
    assert stored.media_type == OCI_INDEX
    child = json.loads(stored.data)["manifests"][1]["digest"]
    layers = reg.pull_image("team/app", child)
    assert layers == LAYERS
    again = import_image(reg, layout, "team/app", "v1")  # idempotent: nothing new stored
    assert again.blobs == 0 and again.skipped == report.blobs + report.skipped


def test_cli_import_into_a_filesystem_store(tmp_path, capsys):
    layout = make_layout(tmp_path / "img")
    root = tmp_path / "store"
    assert main(["image", "import", str(layout), "--root", str(root), "--repository", "team/app"]) == 0
    assert "imported team/app:v1" in capsys.readouterr().out
    reg = Registry(RegistryConfig(backend="filesystem", root=root))
    reg.cluster.rescan()
    assert reg.pull_image("team/app", "v1") == LAYERS


def test_cli_writes_layer_sizes_into_a_scenario(tmp_path, capsys):
    layout = make_layout(tmp_path / "img")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump({"name": "mine", "seed": 3, "image": {"from": str(layout), "tag": "v9"}}))
    assert main(["image", "import", str(layout), "--scenario", str(scenario)]) == 0
    doc = yaml.safe_load(scenario.read_text())
    assert doc["seed"] == 3 and doc["image"] == {"tag": "v9", "layers": [len(b) for b in LAYERS]}
    assert load_scenario(scenario).image.layers == [len(b) for b in LAYERS]
    assert "2 layers" in capsys.readouterr().out


def test_a_failed_scenario_write_leaves_the_file_alone(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: mine\nunknown_key: 1\n")
    with pytest.raises(ConfigError, match="would not be valid"):
        write_scenario_image(scenario, [10, 20])
    assert scenario.read_text() == "name: mine\nunknown_key: 1\n"


@pytest.mark.parametrize("damage, message", [
    (lambda root: (root / "index.json").unlink(), "no index.json"),
    (lambda root: (root / "index.json").write_text('{"manifests": []}'), "lists no manifests"),
    (lambda root: (root / "oci-layout").write_text('{"imageLayoutVersion": "2.0.0"}'), "imageLayoutVersion"),
])
def test_broken_layouts_are_refused(tmp_path, damage, message):
    root = make_layout(tmp_path / "img")
    damage(root)
    with pytest.raises(LayoutError, match=message):
        OciLayout(root)


def test_missing_or_tampered_blobs_are_refused(tmp_path):
    root = make_layout(tmp_path / "img")
    layer = root / "blobs" / "sha256" / digest_of(LAYERS[0]).split(":")[1]
    layer.write_bytes(b"tampered" + LAYERS[0][8:])
    reg = Registry(RegistryConfig())
    with pytest.raises(Exception, match="does not match|DIGEST"):
        import_image(reg, OciLayout(root), "team/app", "v1")
    layer.unlink()
    with pytest.raises(LayoutError, match="lacks blob"):
        import_image(reg, OciLayout(root), "team/app", "v1")


def test_several_images_need_a_ref(tmp_path):
    layout = OciLayout(make_layout(tmp_path / "img", {"a": [b"1"], "b": [b"22"]}))
    with pytest.raises(LayoutError, match="choose one with a ref"):
        layout.select()
    assert layer_sizes(layout, "b") == [2]
    with pytest.raises(LayoutError, match="no image named 'c'"):
        layout.select("c")
    assert main(["image", "import", str(tmp_path / "img"), "--scenario", str(tmp_path / "x.yaml")]) == 2


def test_importing_into_a_missing_scenario_is_refused_not_created(tmp_path, capsys):
    layout = make_layout(tmp_path / "img")
    typo = tmp_path / "scenraio.yaml"
    assert main(["image", "import", str(layout), "--scenario", str(typo)]) == 2
    assert "scenraio.yaml: no such file" in capsys.readouterr().err
    assert not typo.exists()


def test_importing_into_a_scenario_keeps_its_permissions(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: mine\n")
    scenario.chmod(0o644)
    write_scenario_image(scenario, [10, 20])
    assert scenario.stat().st_mode & 0o777 == 0o644
    assert yaml.safe_load(scenario.read_text())["image"] == {"layers": [10, 20]}


COMMENTED = """\
# A scenario a person wrote, with comments everywhere.
name: mine   # names the results folder
description: >
  folded text that the import
  must not re-indent
seed: 3
image:
  # the image under test
  repository: team/app  # where it is pushed
  from: {layout}   # read from disk
  tag: v9
# the workload comes next
workload: {{kind: rollout, start: 10s}}   # spread starts
sweep:
  registry.egress: [10Gbps, 25Gbps]   # two rates
# the end
"""


def _comments(text: str) -> list[str]:
    return [line[line.index("#"):].strip() for line in text.splitlines() if "#" in line]


def test_an_import_keeps_every_comment_and_the_rest_of_the_file(tmp_path):
    layout = make_layout(tmp_path / "img")
    scenario = tmp_path / "s.yaml"
    before = COMMENTED.format(layout=layout)
    scenario.write_text(before)
    assert main(["image", "import", str(layout), "--scenario", str(scenario)]) == 0
    after = scenario.read_text()
    assert _comments(after) == _comments(before)
    sizes = [len(b) for b in LAYERS]
    expected = before.replace(f"  from: {layout}   # read from disk", f"  layers: [{sizes[0]}, {sizes[1]}]   # read from disk")
    assert [line.split("#")[0].rstrip() for line in after.splitlines()] == \
        [line.split("#")[0].rstrip() for line in expected.splitlines()]
    assert after.splitlines()[:7] == before.splitlines()[:7] and after.splitlines()[11:] == before.splitlines()[11:]
    assert load_scenario(scenario).image.layers == sizes


def test_every_shipped_scenario_changes_only_its_layer_line(tmp_path):
    shipped = sorted((Path(__file__).resolve().parents[2] / "scenarios").rglob("*.yaml"))
    assert shipped
    for source in shipped:
        if "layers:" not in source.read_text():
            continue  # a trace replay: no image section to edit
        copy = tmp_path / source.name
        copy.write_text(source.read_text())
        write_scenario_image(copy, [10, 20])
        old, new = source.read_text().splitlines(), copy.read_text().splitlines()
        changed = [(a, b) for a, b in zip(old, new) if a != b]
        assert len(old) == len(new) and len(changed) == 1, source.name
        assert changed[0][1].strip() == "layers: [10, 20]", source.name


@pytest.mark.parametrize("sizes", [[1], [1, 2], [1, 2, 3, 4, 5]])
def test_comments_on_a_block_layer_list_survive_any_new_length(tmp_path, sizes):
    scenario = tmp_path / "s.yaml"
    before = ("name: mine\nimage:\n    layers:\n      - 100MB   # base\n      - 200MB   # app\n"
              "      - 300MB   # data\n    # after the list\nseed: 3  # the seed\n")
    scenario.write_text(before)
    write_scenario_image(scenario, sizes)
    after = scenario.read_text()
    assert sorted(_comments(after)) == sorted(_comments(before))
    assert after.index("# after the list") > after.rindex(f"- {sizes[-1]}")
    assert load_scenario(scenario).image.layers == sizes


def test_an_image_section_is_added_at_the_end_when_missing(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("# mine\nname: mine  # ok\n")
    write_scenario_image(scenario, [10, 20], repository="team/app")
    assert scenario.read_text() == "# mine\nname: mine  # ok\nimage:\n  layers: [10, 20]\n  repository: team/app\n"


def test_a_scenario_that_is_not_yaml_is_refused_untouched(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        write_scenario_image(scenario, [10])
    assert scenario.read_text() == "name: [unclosed\n"


def test_a_nondistributable_layer_the_layout_lacks_is_not_imported(tmp_path):
    """skopeo leaves foreign layers (descriptors with urls) out of a layout; the import pushes
    the rest, and the registry accepts the manifest without them."""
    root = tmp_path / "img"
    root.mkdir()
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    foreign = {"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
               "digest": digest_of(b"elsewhere"), "size": 9, "urls": ["https://store.example.com/elsewhere"]}
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": OCI_CONFIG, **_blob(root, config)},
                           "layers": [foreign, {"mediaType": OCI_LAYER, **_blob(root, LAYERS[0])}]}).encode()
    desc = {"mediaType": OCI_MANIFEST, **_blob(root, manifest),
            "annotations": {"org.opencontainers.image.ref.name": "v1"}}
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [desc]}))
    reg = Registry(RegistryConfig())
    report = import_image(reg, OciLayout(root), "team/app", "v1")
    assert report.blobs == 2 and report.bytes == len(config) + len(LAYERS[0])
    assert reg.get_manifest("team/app", "v1").data == manifest
    assert not reg.has_blob("team/app", digest_of(b"elsewhere"))
    # a layout missing an ordinary layer is still refused
    (root / "blobs" / "sha256" / digest_of(LAYERS[0]).split(":")[1]).unlink()
    with pytest.raises(LayoutError, match="lacks blob"):
        import_image(Registry(RegistryConfig()), OciLayout(root), "team/other", "v1")
