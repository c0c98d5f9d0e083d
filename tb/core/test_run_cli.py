"""``tatami run``: pass, fail code, timeout and the errors reported before any simulation."""

import pytest

from tatami.asm import assemble
from tatami.cli import main
from tb.core.test_cosim import CONFIGS

PASS_PROG = """
    .globl _start
_start:
    li a0, 6
    li a1, 7
    mul a2, a0, a1
    li t0, 42
    bne a2, t0, 1f
    li t1, 1
    j 2f
1:  li t1, (3 << 1) | 1
2:  la t0, tohost
    sw t1, 0(t0)
3:  j 3b
    .data
    .align 3
    .globl tohost
tohost: .word 0, 0
"""


@pytest.fixture
def config_file(tmp_path):
    """The Verilator suite's 4-thread configuration as a file, so ``tatami run`` reuses its build."""
    path = tmp_path / "t4.json"
    path.write_text(CONFIGS["t4"].to_json())
    return str(path)


def _elf(tmp_path, source, name="prog.elf", base=0x8000_0000):
    path = tmp_path / name
    assemble(source, base=base).write_elf(path)
    return str(path)


def test_run_pass_fail_timeout(tmp_path, config_file, capsys):
    assert main(["run", _elf(tmp_path, PASS_PROG), "--config", config_file, "--check"]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "retired instructions" in out and "cycles" in out
    failing = PASS_PROG.replace("li t0, 42", "li t0, 41")
    assert main(["run", _elf(tmp_path, failing, "f.elf"), "--config", config_file]) == 1
    assert "FAIL (tohost = 0x7, code 3)" in capsys.readouterr().out
    spin = PASS_PROG.replace("2:  la t0, tohost", "2:  j 2b\n    la t0, tohost")
    assert main(["run", _elf(tmp_path, spin, "s.elf"), "--config", config_file, "--max-cycles", "500"]) == 1
    assert "TIMEOUT" in capsys.readouterr().out


def test_run_several_programs_and_directories(tmp_path, config_file, capsys):
    """Several ELF files, or directories of them, run in one simulator run: one verdict each, a
    summary line, exit status 0 only if all pass; non-ELF files in a directory are skipped."""
    suite = tmp_path / "suite"
    suite.mkdir()
    _elf(suite, PASS_PROG, "a-pass")
    _elf(suite, PASS_PROG.replace("li t0, 42", "li t0, 41"), "b-fail")
    (suite / "a-pass.dump").write_text("a listing, not a program")
    extra = _elf(tmp_path, PASS_PROG, "c.elf")
    assert main(["run", str(suite), extra, "--config", config_file, "--check"]) == 1
    out = capsys.readouterr().out
    assert "a-pass: PASS" in out and "b-fail: FAIL (tohost = 0x7, code 3)" in out and "c.elf: PASS" in out
    assert "2 passed, 1 failed: b-fail" in out and "a-pass.dump" not in out
    assert main(["run", str(suite / "a-pass"), extra, "--config", config_file]) == 0
    assert "2 passed, 0 failed" in capsys.readouterr().out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["run", str(empty)]) == 2
    assert "no ELF files in this directory" in capsys.readouterr().err


def test_run_reports_bad_programs(tmp_path, capsys):
    bad = tmp_path / "bad.elf"
    bad.write_bytes(b"not an elf at all")
    assert main(["run", str(bad)]) == 2
    assert "not an ELF" in capsys.readouterr().err
    low = _elf(tmp_path, PASS_PROG, "low.elf", base=0x1000)
    assert main(["run", low]) == 2
    err = capsys.readouterr().err
    assert "outside the node SRAM 0x80000000..0x80010000" in err and "link at 0x80000000" in err
    big = _elf(tmp_path, PASS_PROG + "\n    .space 70000\n", "big.elf")
    assert main(["run", big]) == 2
    assert "does not fit" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "missing.elf")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["run", big, "--threads", "5"]) == 2
    assert "must be at most 4" in capsys.readouterr().err
