# SPDX-License-Identifier: Apache-2.0
"""Hand-made frames for the attack tests: Ethernet, ARP, IPv4, IPv6, TCP, UDP, ICMPv6 neighbour discovery,
built byte by byte (no packet library), and the packet sockets that send and sniff them.

What an attacker in a pod with containerd's default capabilities (NET_RAW) can do: write any frame onto its
interface with an AF_PACKET socket, and read every frame that reaches it. Nothing here needs more.
"""
from __future__ import annotations

import ipaddress
import select
import socket
import struct
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
ETH_P_8021Q = 0x8100
BROADCAST = b"\xff" * 6
SOL_PACKET = 263
PACKET_QDISC_BYPASS = 20
TCP_SYN, TCP_ACK, TCP_PSH, TCP_FIN, TCP_RST = 0x02, 0x10, 0x08, 0x01, 0x04


def mac(text: str) -> bytes:
    return bytes(int(b, 16) for b in text.split(":"))


def mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ethernet(dst: bytes, src: bytes, ethertype: int, payload: bytes, vlan: Optional[int] = None) -> bytes:
    tag = struct.pack("!HH", ETH_P_8021Q, vlan) if vlan is not None else b""
    return dst + src + tag + struct.pack("!H", ethertype) + payload


def arp(op: int, sender_mac: bytes, sender_ip: str, target_mac: bytes, target_ip: str) -> bytes:
    """ARP for IPv4 over Ethernet; op 1 = request, 2 = reply."""
    return struct.pack("!HHBBH", 1, ETH_P_IP, 6, 4, op) + sender_mac + socket.inet_aton(sender_ip) + \
        target_mac + socket.inet_aton(target_ip)


def ipv4(src: str, dst: str, proto: int, payload: bytes, ident: int = 1, frag_offset: int = 0,
         more_fragments: bool = False, ttl: int = 64) -> bytes:
    flags_frag = (0x2000 if more_fragments else 0) | (frag_offset // 8)
    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, flags_frag, ttl, proto, 0,
                       socket.inet_aton(src), socket.inet_aton(dst))
    return head[:10] + struct.pack("!H", checksum(head)) + head[12:] + payload


def _pseudo4(src: str, dst: str, proto: int, length: int) -> bytes:
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, proto, length)


def _pseudo6(src: str, dst: str, proto: int, length: int) -> bytes:
    return socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) + \
        struct.pack("!I3xB", length, proto)


def _pseudo(src: str, dst: str, proto: int, length: int) -> bytes:
    v6 = ":" in src
    return (_pseudo6 if v6 else _pseudo4)(src, dst, proto, length)


def tcp(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int, payload: bytes = b"",
        window: int = 64240) -> bytes:
    head = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, window, 0, 0)
    csum = checksum(_pseudo(src, dst, 6, len(head) + len(payload)) + head + payload)
    return head[:16] + struct.pack("!H", csum) + head[18:] + payload


def udp(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    head = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    csum = checksum(_pseudo(src, dst, 17, len(head) + len(payload)) + head + payload) or 0xFFFF
    return head[:6] + struct.pack("!H", csum) + payload


def ipv6(src: str, dst: str, next_header: int, payload: bytes, hop_limit: int = 64) -> bytes:
    return struct.pack("!IHBB", 6 << 28, len(payload), next_header, hop_limit) + \
        socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) + payload


def icmpv6(src: str, dst: str, type_: int, code: int, body: bytes) -> bytes:
    head = struct.pack("!BBH", type_, code, 0)
    csum = checksum(_pseudo6(src, dst, 58, len(head) + len(body)) + head + body)
    return struct.pack("!BBH", type_, code, csum) + body


def neighbour_advert(src: str, dst: str, target: str, lladdr: bytes, override: bool = True,
                     solicited: bool = False) -> bytes:
    """An ICMPv6 neighbour advertisement (RFC 4861 4.4) for `target` at `lladdr`, as an IPv6 packet."""
    flags = (0x20000000 if override else 0) | (0x40000000 if solicited else 0)
    body = struct.pack("!I", flags) + socket.inet_pton(socket.AF_INET6, target) + bytes([2, 1]) + lladdr
    return ipv6(src, dst, 58, icmpv6(src, dst, 136, 0, body), hop_limit=255)


def neighbour_solicit(src: str, dst: str, target: str, lladdr: Optional[bytes]) -> bytes:
    body = b"\0\0\0\0" + socket.inet_pton(socket.AF_INET6, target) + (bytes([1, 1]) + lladdr if lladdr else b"")
    return ipv6(src, dst, 58, icmpv6(src, dst, 135, 0, body), hop_limit=255)


def solicited_node(addr: str) -> str:
    low = socket.inet_pton(socket.AF_INET6, addr)[13:]
    return str(ipaddress.IPv6Address(bytes.fromhex("ff020000000000000000000000000001ff") + low))


def multicast_mac(addr6: str) -> bytes:
    return b"\x33\x33" + socket.inet_pton(socket.AF_INET6, addr6)[12:]


# ---- what a received frame says ---------------------------------------------------------------------------
@dataclass
class Frame:
    raw: bytes
    dst_mac: bytes
    src_mac: bytes
    ethertype: int
    src: Optional[str] = None      # IP source (or ARP sender's address)
    dst: Optional[str] = None      # IP destination (or ARP target's address)
    proto: Optional[int] = None
    sport: Optional[int] = None
    dport: Optional[int] = None
    tcp_flags: int = 0
    seq: int = 0
    ack: int = 0
    payload: bytes = b""
    arp_op: int = 0
    arp_sender_mac: bytes = b""


def parse(raw: bytes) -> Frame:
    f = Frame(raw, raw[0:6], raw[6:12], struct.unpack("!H", raw[12:14])[0])
    body = raw[14:]
    if f.ethertype == ETH_P_ARP and len(body) >= 28:
        f.arp_op = struct.unpack("!H", body[6:8])[0]
        f.arp_sender_mac = body[8:14]
        f.src, f.dst = socket.inet_ntoa(body[14:18]), socket.inet_ntoa(body[24:28])
    elif f.ethertype == ETH_P_IP and len(body) >= 20:
        ihl = (body[0] & 0xF) * 4
        total = struct.unpack("!H", body[2:4])[0]
        f.proto, f.src, f.dst = body[9], socket.inet_ntoa(body[12:16]), socket.inet_ntoa(body[16:20])
        _l4(f, body[ihl:total])
    elif f.ethertype == ETH_P_IPV6 and len(body) >= 40:
        f.proto = body[6]
        f.src = socket.inet_ntop(socket.AF_INET6, body[8:24])
        f.dst = socket.inet_ntop(socket.AF_INET6, body[24:40])
        _l4(f, body[40:40 + struct.unpack("!H", body[4:6])[0]])
    return f


def _l4(f: Frame, l4: bytes) -> None:
    if f.proto in (6, 17) and len(l4) >= 8:
        f.sport, f.dport = struct.unpack("!HH", l4[:4])
    if f.proto == 6 and len(l4) >= 20:
        f.seq, f.ack = struct.unpack("!II", l4[4:12])
        f.tcp_flags = l4[13]
        f.payload = l4[(l4[12] >> 4) * 4:]
    elif f.proto == 17:
        f.payload = l4[8:]


# ---- sockets ----------------------------------------------------------------------------------------------
class PacketSocket:
    """AF_PACKET, SOCK_RAW, bound to one interface: sends whole frames, reads every frame (both directions)."""

    def __init__(self, ifname: str, qdisc_bypass: bool = False):
        self.ifname = ifname
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        if qdisc_bypass:
            self.sock.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
        self.sock.bind((ifname, 0))
        # The bound interface's MAC, as this network namespace sees it (/sys would show the host's).
        self.mac = self.sock.getsockname()[4]

    def send(self, frame: bytes) -> Optional[int]:
        """The errno the kernel gave (a frame dropped by a tc hook on this host's own egress), else None."""
        try:
            self.sock.send(frame)
            return None
        except OSError as e:
            return e.errno

    def frames(self, until: float) -> Iterator[Frame]:
        """Frames received (not sent by us) until the monotonic deadline."""
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                return
            raw, addr = self.sock.recvfrom(65535)
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            yield parse(raw)

    def wait_for(self, match: Callable[[Frame], bool], timeout: float) -> Optional[Frame]:
        for f in self.frames(time.monotonic() + timeout):
            if match(f):
                return f
        return None

    def close(self) -> None:
        self.sock.close()


def send_dgram(ifname: str, dst_mac: bytes, ethertype: int, payload: bytes) -> Optional[int]:
    """AF_PACKET, SOCK_DGRAM: the kernel builds the Ethernet header. The errno of a refused send, else None."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ethertype))
    try:
        s.sendto(payload, (ifname, ethertype, 0, 0, dst_mac))
        return None
    except OSError as e:
        return e.errno
    finally:
        s.close()


def send_raw_ip(packet: bytes, dst: str) -> Optional[int]:
    """A raw IP socket with the header included (IP_HDRINCL): the errno of a refused send, else None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    try:
        s.sendto(packet, (dst, 0))
        return None
    except OSError as e:
        return e.errno
    finally:
        s.close()


class RawTcpClient:
    """A TCP client made of frames: handshake, one request, the response. Used to reach an address from a
    source the kernel would not use (another pod's, a spare one) or through no socket hook at all."""

    def __init__(self, sock: PacketSocket, src_mac: bytes, gw_mac: bytes, src: str, sport: int, dst: str,
                 dport: int):
        self.sock, self.src_mac, self.gw_mac = sock, src_mac, gw_mac
        self.src, self.sport, self.dst, self.dport = src, sport, dst, dport
        self.seq = 0x1000_0000 + sport

    def _send(self, flags: int, seq: int, ack: int, payload: bytes = b"") -> Optional[int]:
        seg = tcp(self.src, self.dst, self.sport, self.dport, seq, ack, flags, payload)
        return self.sock.send(ethernet(self.gw_mac, self.src_mac, ETH_P_IP, ipv4(self.src, self.dst, 6, seg)))

    def _reply(self, f: Frame) -> bool:
        self._answer_arp(f)
        return (f.ethertype == ETH_P_IP and f.proto == 6 and f.src == self.dst and f.sport == self.dport
                and f.dst == self.src and f.dport == self.sport)

    def _answer_arp(self, f: Frame) -> None:
        """Answer for our (forged) source, as a host holding it would: the way back needs it."""
        if f.ethertype == ETH_P_ARP and f.arp_op == 1 and f.dst == self.src:
            self.sock.send(ethernet(f.src_mac, self.src_mac, ETH_P_ARP,
                                    arp(2, self.src_mac, self.src, f.arp_sender_mac, f.src)))

    def request(self, request: bytes, timeout: float = 2.0) -> dict:
        """{"syn_ack": bool, "response": bytes, "send_errno": int|None}: what came back to the forged source."""
        err = self._send(TCP_SYN, self.seq, 0)
        synack = self.sock.wait_for(lambda f: self._reply(f) and f.tcp_flags & (TCP_SYN | TCP_ACK) ==
                                    (TCP_SYN | TCP_ACK), timeout)
        if synack is None:
            return {"syn_ack": False, "response": b"", "send_errno": err}
        return self.complete(synack, request, timeout)

    def complete(self, synack: Frame, request: bytes, timeout: float = 2.0) -> dict:
        """Finish a handshake from a SYN-ACK (ours, or one seen on the wire for someone else's SYN) and ask."""
        seq, ack = synack.ack, synack.seq + 1
        self._send(TCP_ACK, seq, ack)
        self._send(TCP_ACK | TCP_PSH, seq, ack, request)
        seq += len(request)
        response = b""
        deadline = time.monotonic() + timeout
        for f in self.sock.frames(deadline):
            if not self._reply(f):
                continue
            if f.payload:
                response += f.payload
                ack = f.seq + len(f.payload)
                self._send(TCP_ACK, seq, ack)
            if f.tcp_flags & (TCP_FIN | TCP_RST):
                break
        self._send(TCP_RST, seq, 0)
        return {"syn_ack": True, "response": response, "send_errno": None}
