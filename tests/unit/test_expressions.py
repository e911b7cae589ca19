"""Workload expressions ('seq', 'heads*64'): what is not an expression is a clear error, whatever
the text holds (the fuzzer found a lone surrogate, which Python's parser refuses with a
UnicodeEncodeError rather than a SyntaxError)."""
import pytest

from accelsim.cli import main
from accelsim.ir.expressions import evaluate, names_in


@pytest.mark.parametrize("text", ["\ud800", "a\x00b", "1 +", "(" * 5000 + "1" + ")" * 5000])
def test_unreadable_expressions_are_value_errors(text):
    assert names_in(text) == set()
    with pytest.raises(ValueError, match="cannot read expression"):
        evaluate(text, {})


def test_a_surrogate_in_a_workload_is_exit_2(tmp_path, capsys):
    path = tmp_path / "w.yaml"
    path.write_text('name: w\nlayers:\n  - {name: g, matmul: {m: 8, n: 8, k: 8}, count: "\\ud800"}\n')
    assert main(["check", str(path)]) == 2
    assert "layers.0.count: cannot read expression" in capsys.readouterr().err


def test_expressions_still_evaluate():
    assert evaluate("(seq+1)//2*heads", {"seq": 127, "heads": 12}) == 768
    assert names_in("(seq+1)//2*heads") == {"seq", "heads"}
