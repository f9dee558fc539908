"""`lwbench guidelines` around the measuring: what is refused before anything is timed (an output that cannot
be written, an output another run holds, a --breakdown with no known network), and the format switch of
report.emit (`-f table -o FILE` writes the tables as text). Nothing here asserts a timing."""

from __future__ import annotations

import json

from lwbench.cli import main


def _one_line(capsys, argv, code: int = 2) -> str:
    capsys.readouterr()
    assert main(argv) == code
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in cap.err, cap.err
    return lines[0]


def test_breakdown_with_no_known_network_is_exit_2(capsys):
    err = _one_line(capsys, ["guidelines", "--breakdown", "--quick", "--net", "no_such_net", "-f", "json"])
    assert err.startswith("lwbench: error: --net: ") and "no_such_net" in err
    assert capsys.readouterr().out == ""


def test_an_output_that_cannot_be_written_is_refused_before_timing(tmp_path, capsys):
    folder = tmp_path / "out.csv"
    folder.mkdir()
    err = _one_line(capsys, ["guidelines", "G1", "--quick", "-o", str(folder)])
    assert f"{folder}" in err and "directory" in err
    err = _one_line(capsys, ["guidelines", "--breakdown", "--quick", "--net", "mobilenet_v1", "-o", str(folder)])
    assert f"{folder}" in err


def test_a_second_run_on_the_same_output_is_refused(tmp_path, capsys):
    from lwbench.report.write import output_lock

    out = tmp_path / "g.csv"
    with output_lock(out):                       # another run holds the file
        err = _one_line(capsys, ["guidelines", "G2", "--quick", "-o", str(out)])
    assert "another lwbench run is writing this file" in err and not out.exists()


def test_table_to_a_file_is_the_tables_as_text(tmp_path, capsys):
    out = tmp_path / "g.txt"
    assert main(["guidelines", "G4", "--quick", "-f", "table", "-o", str(out)]) == 0
    text = out.read_text()
    assert "G4 (Table 4)" in text and "relu=yes,shortcut=yes (ref)" in text and "madds spread" in text
    capsys.readouterr()
    assert main(["guidelines", "G4", "--quick", "-f", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {r["setting"] for r in doc["rows"]} == {"relu=yes,shortcut=yes", "relu=yes,shortcut=no",
                                                  "relu=no,shortcut=yes", "relu=no,shortcut=no"}
    assert doc["verdicts"]["G4"].startswith("G4 ") and "samples_ms" in doc["rows"][0]
