# SPDX-License-Identifier: Apache-2.0
"""Shell entry point, for scripts (the demo, benchmarks) that need simulated nodes without writing Python.

    python3 -m podid_harness.sim create  --state F [--name N] [--cgroup-driver systemd|cgroupfs]
                                         [--runtime containerd|crio|docker] [--network kubenet|azure-cni]
                                         [--agent-addr A] [--pod-cidr C] [--address CIDR]... [--pod [NS/]NAME[:QOS]]...
    python3 -m podid_harness.sim add-pod --state F NAME [--namespace NS] [--qos Q] [--uid U] [--label K=V]...
                                         [--host-network] [--service-account SA] [--ip IP]
    python3 -m podid_harness.sim exec    --state F (--pod [NS/]NAME [--no-net-raw] | --node [--cgroup NAME]) -- CMD...
    python3 -m podid_harness.sim show    --state F [--pod [NS/]NAME] [--field KEY]
    python3 -m podid_harness.sim destroy --state F

`create` leaves the node in place after it exits, described by the state file; `destroy` removes it and the
file. `exec` replaces itself with CMD, so CMD's exit status, stdin and signals are the script's.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Optional

from . import layout, proc
from .netns import NETWORKS
from .node import Node


def _save(path: Path, node: Node) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(node.to_state(), f, indent=2)
    os.replace(tmp, path)           # a reader never sees half a state file


def _load(path: Path) -> Node:
    with open(path, encoding="utf-8") as f:
        return Node.from_state(json.load(f))


def _pod_ref(node: Node, ref: str):
    namespace, _, name = ref.rpartition("/")
    try:
        return node.pod(name, namespace or "default")
    except KeyError:
        raise SystemExit(f"no pod {namespace or 'default'}/{name} on {node.name}") from None


def cmd_create(args) -> int:
    if args.state.exists():
        raise SystemExit(f"{args.state} exists: destroy that node first, or choose another state file")
    node = Node.create(name=args.name, cgroup_driver=args.cgroup_driver, network=args.network,
                       agent_addr=args.agent_addr, pod_cidr=args.pod_cidr, runtime=args.runtime,
                       provider_id=args.provider_id)
    try:
        for cidr in args.address:
            node.add_address(cidr)
        for cidr in args.fabric_address:
            node.add_fabric_address(cidr)
        for spec in args.pod:
            ref, _, qos = spec.partition(":")
            namespace, _, name = ref.rpartition("/")
            node.add_pod(name, namespace=namespace or "default", qos=qos or "burstable")
        _save(args.state, node)
    except BaseException:
        node.close()
        raise
    node.detach()
    print(json.dumps(node.to_state(), indent=2))
    return 0


def cmd_add_pod(args) -> int:
    node = _load(args.state)
    labels = dict(kv.split("=", 1) for kv in args.label)
    pod = node.add_pod(args.name, namespace=args.namespace, qos=args.qos, uid=args.uid, labels=labels,
                       host_network=args.host_network, service_account=args.service_account, ip=args.ip)
    _save(args.state, node)
    print(json.dumps(pod.to_state(), indent=2))
    return 0


def cmd_exec(args) -> int:
    node = _load(args.state)
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        raise SystemExit("exec: no command given after --")
    if args.node:
        cgroup = node.make_cgroup(args.cgroup) if args.cgroup else None
        proc.exec_in(argv, node.netns, cgroup, None)
    if args.fabric:
        proc.exec_in(argv, node.fabric_netns, None, None)
    pod = _pod_ref(node, args.pod)
    proc.exec_in(argv, pod.netns, pod.container_cgroup_dir, proc.container_caps(not args.no_net_raw))
    return 127      # not reached: exec_in replaces this process


def cmd_show(args) -> int:
    node = _load(args.state)
    state = _pod_ref(node, args.pod).to_state() if args.pod else node.to_state()
    if args.field:
        if args.field not in state:
            raise SystemExit(f"no field {args.field!r}; fields: {', '.join(sorted(state))}")
        value = state[args.field]
        print(value if isinstance(value, (str, int)) else json.dumps(value))
    else:
        print(json.dumps(state, indent=2))
    return 0


def cmd_destroy(args) -> int:
    if not args.state.exists():
        raise SystemExit(f"{args.state}: no such state file")
    _load(args.state).close()      # CleanupError (exit 1, state file kept) if anything remains
    args.state.unlink()
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python3 -m podid_harness.sim", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    def command(name, fn, help):
        c = sub.add_parser(name, help=help)
        c.add_argument("--state", type=Path, required=True, help="JSON file describing the node")
        c.set_defaults(fn=fn)
        return c

    c = command("create", cmd_create, "create a node (and pods) that outlives this command")
    c.add_argument("--name", default="node-a")
    c.add_argument("--cgroup-driver", choices=layout.DRIVERS, default="systemd")
    c.add_argument("--runtime", choices=layout.RUNTIMES, default="containerd")
    c.add_argument("--network", choices=NETWORKS, default="kubenet")
    c.add_argument("--agent-addr", default="169.254.32.1")
    c.add_argument("--pod-cidr", default="10.244.1.0/24")
    c.add_argument("--provider-id", default=None)
    c.add_argument("--address", action="append", default=[], help="extra local address of the node, on imds0")
    c.add_argument("--fabric-address", action="append", default=[],
                   help="address behind the node's uplink, e.g. 169.254.169.254/32 for a stand-in IMDS")
    c.add_argument("--pod", action="append", default=[], metavar="[NS/]NAME[:QOS]")

    c = command("add-pod", cmd_add_pod, "add a pod to the node")
    c.add_argument("name")
    c.add_argument("--namespace", default="default")
    c.add_argument("--qos", choices=layout.QOS_CLASSES, default="burstable")
    c.add_argument("--uid", default=None)
    c.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    c.add_argument("--host-network", action="store_true")
    c.add_argument("--service-account", default="default")
    c.add_argument("--ip", default=None)

    c = command("exec", cmd_exec, "run a command in a pod (or in the node or fabric namespace)")
    where = c.add_mutually_exclusive_group(required=True)
    where.add_argument("--pod", metavar="[NS/]NAME")
    where.add_argument("--node", action="store_true", help="node netns, root with all capabilities")
    where.add_argument("--fabric", action="store_true", help="the fabric behind the node's uplink (stand-ins)")
    c.add_argument("--cgroup", help="with --node: run in this cgroup under the node's root (made if missing)")
    c.add_argument("--no-net-raw", action="store_true", help="with --pod: drop CAP_NET_RAW")
    c.add_argument("argv", nargs=argparse.REMAINDER)

    c = command("show", cmd_show, "print the node's (or a pod's) state as JSON, or one field of it")
    c.add_argument("--pod", metavar="[NS/]NAME")
    c.add_argument("--field")

    command("destroy", cmd_destroy, "remove everything the node holds, then the state file")
    return p


def main(argv: Optional[list[str]] = None) -> int:
    args = _parser().parse_args(argv)
    return args.fn(args)
