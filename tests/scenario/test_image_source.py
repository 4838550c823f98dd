"""``image.from``: the layer sizes of a real image, read when the scenario is loaded."""

import json

import pytest

from regsim.scenario import ScenarioError, dump_yaml, load_scenario, parse_yaml, resolved, scenario_from_dict

from .layouts import OCI_INDEX, manifest_bytes, write_layout, write_platform_index


def image(tmp_path, **image):
    return scenario_from_dict({"name": "x", "image": image}, base_dir=tmp_path).image


def test_a_layout_with_one_image_gives_its_sizes_whatever_the_tag(tmp_path):
    write_layout(tmp_path / "layout", {"v1": [3_000_000, 1_000]})
    for tag in ("v1", "latest"):
        img = image(tmp_path, **{"from": "layout", "tag": tag})
        assert img.layers == [3_000_000, 1_000] and img.total_size() == 3_001_000


def test_a_layout_with_several_images_takes_the_one_named_by_the_tag(tmp_path):
    write_layout(tmp_path / "layout", {"v1": [10], "v2": [20, 30]})
    assert image(tmp_path, **{"from": "layout", "tag": "v2"}).layers == [20, 30]
    with pytest.raises(ScenarioError, match=r"image\.from: .*holds 2 images and none is named 'latest' "
                                            r"\(image\.tag\); set image\.tag to one of: v1, v2"):
        image(tmp_path, **{"from": "layout"})


def test_a_multi_platform_image_gives_its_linux_amd64_layers(tmp_path):
    write_platform_index(tmp_path / "layout", {"linux/arm64": [1, 2], "linux/amd64": [3, 4, 5]})
    assert image(tmp_path, **{"from": "layout"}).layers == [3, 4, 5]


def test_a_manifest_file_gives_its_sizes_and_an_index_file_is_refused(tmp_path):
    (tmp_path / "m.json").write_bytes(manifest_bytes([7, 8]))
    assert image(tmp_path, **{"from": "m.json"}).layers == [7, 8]
    (tmp_path / "index.json").write_text(json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}))
    with pytest.raises(ScenarioError, match=r"image\.from: .*index\.json is an image index"):
        image(tmp_path, **{"from": "index.json"})


@pytest.mark.parametrize("content,fragment", [
    ("not json", "is not valid JSON"),
    ('{"schemaVersion": 1}', "schemaVersion: expected 2"),
    (manifest_bytes([]).decode(), "has no layers to pull"),
])
def test_a_source_without_readable_sizes_is_an_error_naming_it(tmp_path, content, fragment):
    (tmp_path / "bad.json").write_text(content)
    with pytest.raises(ScenarioError) as err:
        image(tmp_path, **{"from": "bad.json"})
    message = str(err.value)
    assert message.startswith("<scenario>: image.from: ") and "bad.json" in message and fragment in message


def test_a_layout_whose_manifest_blob_is_missing_is_an_error(tmp_path):
    root = write_layout(tmp_path / "layout", {"v1": [10]})
    for blob in (root / "blobs" / "sha256").iterdir():
        blob.unlink()
    with pytest.raises(ScenarioError, match=r"image\.from: cannot read the layer sizes of .*lacks blob"):
        image(tmp_path, **{"from": "layout"})


def test_the_resolved_scenario_keeps_the_source_and_reads_it_again(tmp_path):
    write_layout(tmp_path / "layout", {"v1": [10, 20]})
    (tmp_path / "s.yaml").write_text("name: s\nimage:\n  from: layout\n")
    s = load_scenario(tmp_path / "s.yaml")
    data = resolved(s)
    assert data["image"]["layers"] is None and data["image"]["from"] == str((tmp_path / "layout").resolve())
    again = scenario_from_dict(parse_yaml(dump_yaml(s)), "resolved.yaml")
    assert again == s and again.image.layers == [10, 20]


def test_layers_and_a_source_together_are_still_refused(tmp_path):
    write_layout(tmp_path / "layout", {"v1": [10]})
    with pytest.raises(ScenarioError, match=r"image\.from: give the image's layers or a source"):
        image(tmp_path, **{"from": "layout", "layers": ["1MB"]})
