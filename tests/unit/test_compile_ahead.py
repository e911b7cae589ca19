"""compile_ahead: which kernels a run compiles ahead, in which processes, and a job that fails."""
import pytest

from accelsim import compile_ahead
from accelsim.compile_ahead import (
    COUNTING,
    JOBS,
    RAGGED,
    SEARCH,
    Job,
    chains,
    compile_in_parallel,
    jobs_for,
)
from accelsim.options import SimOptions


def test_jobs_follow_the_run():
    assert jobs_for(SimOptions(dataflow="search")) == [COUNTING, RAGGED, SEARCH]
    assert jobs_for(SimOptions(dataflow="os")) == [COUNTING, RAGGED]
    assert jobs_for(SimOptions(dataflow="os", model="cycle")) == [COUNTING, RAGGED]
    assert jobs_for(SimOptions(dataflow="os", scalesim_compat=True)) == [COUNTING]


def test_the_search_job_shares_the_counting_jobs_process():
    assert chains([COUNTING, RAGGED, SEARCH]) == [[COUNTING, SEARCH], [RAGGED]]
    assert chains([RAGGED, SEARCH]) == [[RAGGED], [SEARCH]]  # the counting kernel is cached already


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "spawned"])
def test_a_failed_job_is_reported(monkeypatch, fork):
    # The child process knows no job "nosuch": it exits with an error, which the parent reports.
    monkeypatch.setattr(compile_ahead, "_can_fork", lambda: fork)
    monkeypatch.setitem(JOBS, "nosuch", Job("a job no child knows"))
    lines = []
    assert compile_in_parallel(["nosuch"], processes=2, report=lines.append) == {}
    assert lines[0] == "compiling a job no child knows (process 1 of 1)"
    assert "failed (ValueError: unknown compile job 'nosuch'" in lines[1] and "the run compiles" in lines[1]
    assert len(lines) == 2


def test_a_forked_child_leaves_even_when_its_log_fails(monkeypatch, tmp_path):
    # A child whose log cannot be flushed (a full $TMPDIR) still exits there, with a failure: it never
    # returns into the caller's code (which here would run on in a copy of the test process).
    import os
    import tempfile

    parent, real = os.getpid(), tempfile.TemporaryFile

    class FullLog:
        def __init__(self, *args, **kwargs):
            self.file = real(*args, **kwargs)

        def flush(self):
            if os.getpid() != parent:
                raise OSError(28, "No space left on device")
            return self.file.flush()

        def __getattr__(self, name):
            return getattr(self.file, name)

    monkeypatch.setattr(compile_ahead, "_can_fork", lambda: True)
    monkeypatch.setattr(compile_ahead.tempfile, "TemporaryFile", FullLog)
    monkeypatch.setitem(JOBS, "nosuch", Job("a job no child knows"))
    lines, escaped = [], tmp_path / "escaped"
    try:
        done = compile_in_parallel(["nosuch"], processes=1, report=lines.append)
    finally:
        if os.getpid() != parent:  # a child back in the caller's code: say so, and leave
            escaped.write_text("a forked child returned from compile_in_parallel")
            os._exit(0)
    assert not escaped.exists()
    assert done == {} and "failed (exit status 1)" in lines[1]
