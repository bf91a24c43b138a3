"""Two hosts on one machine: a real multi-host MPI run over TCP through ``python -m minicell.run``.

The test makes two network namespaces joined by a veth pair, each with an address of its own,
points Open MPI's remote-start agent (``--mca plm_rsh_agent``) at a small script that runs the
daemon inside the named namespace (``ip netns exec HOST``) with a host name of its own
(``unshare --uts``: else Open MPI takes both for one node), and runs the main job with one rank
per "host" through the launcher's ``--hostfile``: the fingerprint of the plain run. It removes
what it made, and skips (saying why) where namespaces cannot be made (not root, no iproute2).
"""
import os
import shutil
import subprocess
import sys

import pytest

from tests import jobs
from tests.jobs import finish

EXAMPLE = jobs.ROOT / "examples" / "train_mlp.py"
SMALL = ["--epochs", "2", "--points", "34", "--hidden", "8", "--batch", "24", "--micro-batch", "4"]
AGENT = """#!/bin/sh
# Open MPI's remote-start agent: "agent HOST COMMAND" runs COMMAND in HOST's namespace, as ssh would
host="$1"; shift
case "$host" in
{cases}
  *) echo "agent: unknown host $host" >&2; exit 1 ;;
esac
exec ip netns exec "$ns" unshare --uts sh -c 'hostname "$0" && exec sh -c "$1"' "$name" "$*"
"""


def ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=check)


@pytest.fixture
def two_hosts(tmp_path):
    """``[(namespace, address, host name)] * 2`` and the agent script; everything removed after."""
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("unshare"):
        pytest.skip("network namespaces need root, iproute2 (ip) and util-linux (unshare)")
    tag = f"mc{os.getpid() % 100000}"
    hosts = [(f"{tag}a", "10.211.9.1", f"{tag}-a"), (f"{tag}b", "10.211.9.2", f"{tag}-b")]
    made = []
    try:
        for ns, _, _ in hosts:
            ip("netns", "add", ns)
            made.append(ns)
        ip("link", "add", f"{tag}va", "type", "veth", "peer", "name", f"{tag}vb")
        for (ns, address, _), dev in zip(hosts, (f"{tag}va", f"{tag}vb")):
            ip("link", "set", dev, "netns", ns)
            ip("-n", ns, "addr", "add", f"{address}/24", "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
            ip("-n", ns, "link", "set", "lo", "up")
    except (subprocess.CalledProcessError, OSError) as error:
        for ns in made:
            ip("netns", "del", ns, check=False)
        pytest.skip(f"cannot make network namespaces here: {getattr(error, 'stderr', error)}")
    agent = tmp_path / "agent.sh"
    agent.write_text(AGENT.format(cases="\n".join(f'  {a}) ns={ns}; name={name} ;;' for ns, a, name in hosts)))
    agent.chmod(0o755)
    try:
        yield hosts, agent
    finally:
        for ns, _, _ in hosts:
            pids = ip("netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                subprocess.run(["kill", "-9", pid], check=False)
            ip("netns", "del", ns, check=False)


@pytest.mark.parametrize("naming", ["--hostfile", "--host"])
def test_the_main_job_on_two_hosts_over_tcp_prints_the_plain_fingerprint(two_hosts, tmp_path, naming):
    hosts, agent = two_hosts
    code, plain, err = finish(jobs.start([sys.executable, str(EXAMPLE), *SMALL]))
    assert code == 0, err
    hostfile = tmp_path / "hosts"
    hostfile.write_text("".join(f"{address} slots=1\n" for _, address, _ in hosts))
    where = str(hostfile) if naming == "--hostfile" else ",".join(f"{address}:1" for _, address, _ in hosts)
    (ns, _, name) = hosts[0]
    job = jobs.start(["ip", "netns", "exec", ns, "unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', name,
                      sys.executable, "-m", "minicell.run", "-n", "2", naming, where,
                      "--mca", "plm_rsh_agent", str(agent), "--", str(EXAMPLE), *SMALL])
    code, out, err = finish(job, 120)
    assert code == 0, err
    assert "world size 2," in out
    assert out.splitlines()[-1] == plain.splitlines()[-1] and plain.splitlines()[-1].startswith("fingerprint ")
    for ns, _, _ in hosts:  # no rank or daemon outlives the job
        assert ip("netns", "pids", ns).stdout.split() == []
