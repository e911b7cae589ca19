"""Issue 19: every hostile file ends in a SpecError with file:line, what was found and what is
allowed; `accelsim check` prints it and exits 2, never a traceback, in bounded time."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import accelsim
from accelsim.cli import main
from accelsim.errors import SpecError
from accelsim.spec.files import allow_paths
from conftest import ARCH_DIR, REPO

GOOD = (ARCH_DIR / "simple_ws.yaml").read_bytes()
LAUGHS = (b"l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
          + b"".join(b"l%d: &l%d [%s]\n" % (i, i, b", ".join([b"*l%d" % (i - 1)] * 10)) for i in range(1, 9)))


def refused(path, needle, line=None, **kw) -> SpecError:
    start = time.perf_counter()
    with pytest.raises(SpecError) as info:
        accelsim.load_arch(path, **kw)
    assert time.perf_counter() - start < 5
    (p,) = info.value.problems
    assert needle in p.message, info.value.render()
    if line is not None:
        assert p.line == line, info.value.render()
    assert p.file is not None
    return info.value


def put(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("bad,needle,line,key_path", [
    (b"name: simple\xff\xfews", "invalid UTF-8 at column 13 (byte offset 286: ff)", 4, ""),
    (b"name: simple\x07ws", "the control character U+0007 at column 13", 4, ""),
    (b"name: simple\x00ws", "a NUL byte at column 13", 4, ""),
    (b"name: [" + b"[" * 5000 + b"]" * 5001, "nesting deeper than 64 levels", 4, None),
    (b"name: " + b"9" * 5000, "an integer of 5,000 digits", 4, "name"),
    (b"name: 9223372036854775808", "does not fit in 64 bits", 4, "name"),
    (b"name: x\n[a, b]: 1", "a key is a list", 5, ""),
    (b"name: x\n? {a: 1}\n: 1", "a key is a mapping", 5, ""),
    (b"name: &a [*a]", "alias *a refers to the node that contains it", 4, "name.0"),
    (b"name: 2024-13-45", "cannot read the value '2024-13-45'", 4, "name"),
    (b"name: !!bool maybe", "cannot read the value 'maybe'", 4, "name"),
])
def test_each_hostile_construct_is_one_located_problem(tmp_path, bad, needle, line, key_path):
    err = refused(put(tmp_path, "a.yaml", GOOD.replace(b"name: simple_ws", bad)), needle, line)
    if key_path is not None:
        assert err.problems[0].key_path == key_path
    assert err.problems[0].allowed or err.problems[0].message.startswith("cannot read")


@pytest.mark.parametrize("tail", [b"description: *l8\n", b"set: {description: *l8}\n"])
def test_billion_laughs_is_refused_before_anything_expands_it(tmp_path, tail):
    (tmp_path / "base.yaml").write_bytes(GOOD)
    head = b"extends: base.yaml\n" if b"set" in tail else GOOD + b"\n"
    err = refused(put(tmp_path, "a.yaml", head + LAUGHS + tail), "aliases expand this document to")
    assert "1,111,111,111" in err.problems[0].message and err.problems[0].line is not None


def test_a_few_aliases_still_work(tmp_path):
    text = GOOD.replace(b"name: simple_ws", b"name: &n simple_ws").replace(
        b"description: 16x16 PE array, per-PE weight scratchpad, INT16, 45 nm", b"description: *n")
    assert accelsim.load_arch(put(tmp_path, "a.yaml", text)).name == "simple_ws"


def test_files_too_large_are_refused_unread(tmp_path):
    path = tmp_path / "big.yaml"
    with open(path, "wb") as f:
        f.truncate(17 * 1024 * 1024)
    refused(path, "larger than 16 MiB")


@pytest.mark.parametrize("make,needle", [
    (lambda d: os.mkfifo(d / "base.yaml"), "it is a FIFO (named pipe); only regular files are read"),
    (lambda d: (d / "base.yaml").symlink_to(d / "base.yaml"), "a symlink loop"),
    (lambda d: (d / "base.yaml").mkdir(), "it is a directory"),
    (lambda d: (d / "base.yaml").symlink_to("/dev/zero"), "outside the folders this spec may read"),
])
def test_extends_reads_regular_files_only(tmp_path, make, needle):
    make(tmp_path)
    err = refused(put(tmp_path, "a.yaml", b"name: x\nextends: base.yaml\n"), needle, 2)
    assert err.problems[0].key_path == "extends" and err.problems[0].file.endswith("a.yaml")


def test_a_fifo_named_on_the_command_line_does_not_hang(tmp_path, capsys):
    os.mkfifo(tmp_path / "f.yaml")
    assert main(["check", str(tmp_path / "f.yaml")]) == 2
    assert "FIFO" in capsys.readouterr().err


def test_extends_stays_in_the_spec_folder_tree_unless_allowed(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "base.yaml").write_bytes(GOOD)
    (tmp_path / "specs" / "sub").mkdir(parents=True)
    (tmp_path / "specs" / "sub" / "mid.yaml").write_bytes(b"extends: ../../shared/base.yaml\n")
    child = put(tmp_path / "specs", "a.yaml", b"extends: sub/mid.yaml\nname: child\n")
    err = refused(child, "resolves to", 1)
    assert err.problems[0].file.endswith("mid.yaml") and "--allow-path" in err.problems[0].suggestion
    assert str(tmp_path / "specs") in err.problems[0].allowed
    with allow_paths([tmp_path / "shared"]):
        assert accelsim.load_arch(child).name == "child"
    refused(put(tmp_path / "specs", "abs.yaml", b"extends: /etc/hostname\n"), "outside the folders")
    refused(put(tmp_path / "specs", "nul.yaml", b'extends: "a\\0b"\n'), "contains a NUL character")
    refused(put(tmp_path / "specs", "lst.yaml", b"extends: [a]\n"), "extends must name a file")


def test_extends_cycles_and_long_chains_are_refused(tmp_path):
    put(tmp_path, "a.yaml", b"extends: b.yaml\n")
    put(tmp_path, "b.yaml", b"extends: a.yaml\n")
    refused(tmp_path / "a.yaml", "extends forms a cycle")
    for i in range(40):
        put(tmp_path, f"c{i}.yaml", b"extends: c%d.yaml\n" % (i + 1))
    refused(tmp_path / "c0.yaml", "more than 32 files extend one another")


def test_allow_path_flag_lets_extends_reach_a_folder(tmp_path, capsys):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "base.yaml").write_bytes(GOOD)
    (tmp_path / "specs").mkdir()
    child = put(tmp_path / "specs", "a.yaml", b"extends: ../shared/base.yaml\nname: child\n")
    assert main(["check", str(child)]) == 2
    assert main(["check", str(child), "--allow-path", str(tmp_path / "shared")]) == 0


@pytest.mark.parametrize("old,new,needle", [
    (b"read_bandwidth: 16 words/cycle", b"read_bandwidth: 0 words/cycle", "a bandwidth must be positive"),
    (b"read_bandwidth: 16 words/cycle", b"read_bandwidth: -16 words/cycle", "a bandwidth must be positive"),
    (b"read_bandwidth: 16 words/cycle", b"read_bandwidth: 1e999 words/cycle", "a bandwidth must be positive"),
    (b"size: 128KiB", b"size: 0KiB", "a size must be positive"),
    (b"size: 128KiB", b"size: -128KiB", "a size must be positive"),
    (b"size: 128KiB", b"size: 1e999KiB", "not a finite number"),
    (b"size: 128KiB", b"size: 1e30GiB", "larger than 2^62 bits"),
    (b"frequency: 1GHz", b"frequency: 0GHz", "greater than 0"),
    (b"frequency: 1GHz", b"frequency: -1GHz", "greater than 0"),
    (b"frequency: 1GHz", b"frequency: 1e999GHz", "finite number"),
])
def test_zero_negative_and_infinite_quantities_are_refused(tmp_path, old, new, needle):
    assert old in GOOD
    err = refused(put(tmp_path, "a.yaml", GOOD.replace(old, new, 1)), needle)
    assert err.problems[0].line is not None and err.problems[0].key_path


def test_set_overrides_are_checked_as_files_are(tmp_path):
    path = put(tmp_path, "a.yaml", GOOD)
    for value, needle in (("9" * 5000, "5,000 digits"), ("'\x01'", "control character"),
                          ("[" * 100, "nesting deeper")):
        with pytest.raises(SpecError, match=needle):
            accelsim.load_arch(path, [f"name={value}"])


def test_density_tensor_files_are_checked(tmp_path):
    np.save(tmp_path / "act.npy", np.ones((4, 4)))
    data = (tmp_path / "act.npy").read_bytes()
    (tmp_path / "lie.npy").write_bytes(data.replace(b"(4, 4)", b"(999999999, 99999)"))
    os.mkfifo(tmp_path / "fifo.npy")
    for name, needle in (("lie.npy", "the header promises"), ("fifo.npy", "FIFO"),
                         ("/dev/zero", "outside the folders")):
        (tmp_path / "w.yaml").write_text("name: w\nlayers:\n  - name: fc\n    matmul: {m: 4, n: 4, k: 4}\n"
                                         f"    density: {{inputs: {name}}}\n")
        with pytest.raises(SpecError, match=needle):
            accelsim.load_workload(tmp_path / "w.yaml")


def test_the_cli_prints_the_error_and_exits_2_without_a_traceback(tmp_path):
    path = put(tmp_path, "a.yaml", GOOD.replace(b"x: 16, y: 16", b"x: " + b"9" * 5000 + b", y: 16"))
    done = subprocess.run([sys.executable, "-m", "accelsim.cli", "check", str(path)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{path}:28: levels.2.spatial.x: an integer of 5,000 digits" in done.stderr


def test_long_expressions_are_refused_before_parsing(tmp_path):
    (tmp_path / "w.yaml").write_text("name: w\nlayers:\n  - name: fc\n    count: \"" + "+".join(["1"] * 20000)
                                     + "\"\n    matmul: {m: 4, n: 4, k: 4}\n")
    with pytest.raises(SpecError, match="an expression of 39,999 characters") as info:
        accelsim.load_workload(tmp_path / "w.yaml")
    assert info.value.problems[0].line == 3
