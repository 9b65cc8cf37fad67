"""`warren policy learn` run many times over: here rather than among the Swift suites, which run in
parallel, so that forty traced shells in a row do not starve their timing-sensitive neighbours."""

import subprocess

from helpers import warren_bin


def test_a_shell_pipeline_runs_the_same_under_learn_every_time():
    """Under a seccomp listener a signal could withdraw a call before Warren had received it, and
    the shell's fork then failed with EINTR, or its close of a pipe end did nothing and `wc`
    waited forever: 1-2 runs in a hundred. Traced, a signal waits for the stop to end."""
    for run in range(1, 41):
        r = subprocess.run([str(warren_bin()), "policy", "learn", "--timeout", "10", "--", "/bin/sh", "-c",
                            "echo a | cat | wc -c"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and r.stderr.startswith("2\n"), f"run {run}: {r.stderr}"
