"""The spec reference in docs/ is generated from the schema and must be current."""
from accelsim.docs_gen import spec_reference
from conftest import REPO


def test_spec_reference_is_current():
    path = REPO / "docs" / "spec-reference.md"
    assert path.read_text() == spec_reference() + "\n", \
        "docs/spec-reference.md is stale: run `accelsim info schema > docs/spec-reference.md`"
