"""The README's first command: the demo runs end to end, finds the events it planted, and runs again into its folder."""
import json

import pytest

from actionhas import demo


@pytest.mark.slow
def test_demo_quick_finds_its_planted_events_and_reruns_into_the_same_folder(tmp_path, capsys):
    for _ in range(2):
        assert demo.main(["--quick", "--out", str(tmp_path / "demo")]) == 0
        out = capsys.readouterr().out
        found = [line for line in out.splitlines() if ": planted " in line and " | found " in line]
        assert len(found) == 2 * 4 and all(line.endswith("ok") for line in found), found  # printed twice
    truth = json.loads((tmp_path / "demo" / "detect" / "truth.json").read_text())["database"]
    assert set(truth) == {"squares_0", "bars_1", "bars_squares_2"}
    assert (tmp_path / "demo" / "detect" / "index.html").exists() and (tmp_path / "demo" / "report" / "index.html").exists()
