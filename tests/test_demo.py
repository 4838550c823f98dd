"""`make demo` must keep working: the registry core end to end, with real bytes."""

from regsim.cli import main
from regsim.demo import run_demo


def test_demo_figures(tmp_path):
    lines: list[str] = []
    figures = run_demo(tmp_path, out=lines.append, sizes_mib=[2, 1])
    total = 3 << 20
    assert figures["image_bytes"] == total
    assert 1.5 <= figures["overhead"] < 1.55  # RS(4,2) stores 1.5x plus fragment headers
    assert figures["push"]["aes_gcm_encrypt"] >= total
    # coding work is in bytes multiplied: encode = chunk x k x m per blob, i.e. the stored
    # (encrypted, padded) bytes x m = 2
    encoded = figures["push"]["ec_encode"]
    assert 2 * total <= encoded < 2.01 * total
    assert figures["pull"].get("ec_decode", 0) == 0  # healthy reads concatenate data fragments
    # two lost nodes force real decodes: j lost data chunks x chunk x k per blob, j <= 2 = m, so at
    # most the encode's work; here the layers lost data fragments
    assert total <= figures["degraded_pull"]["ec_decode"] <= encoded
    # the repair rebuilds both lost fragments of every blob, (j + p) = 2 x chunk x k: the encode's work
    assert figures["repair"]["ec_reconstruct"] == encoded
    assert figures["repair_report"].fragments_rebuilt > 0
    assert not figures["repair_report"].unrecoverable
    assert any("verified after repair" in line for line in lines)


def test_demo_cli(capsys):
    assert main(["demo", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "rs(4,2)" in out and "degraded" in out
