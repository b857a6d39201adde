"""Which addresses a webhook may reach: a pure check of one resolved IP address."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SETTING = "[security] allowed_networks"

# Most specific first: the first matching range names the reason.
_BLOCKED_V4 = (
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "cgnat"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "reserved"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved"),
)
_BLOCKED_V6 = (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "private"),
    ("100::/64", "discard"),
    ("2001::/23", "reserved"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "reserved"),
    ("fc00::/7", "private"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
)
# IPv6 outside global unicast (2000::/3) is unallocated, except these (checked above or unwrapped).
_V6_OUTSIDE_GLOBAL_OK = ("64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "fc00::/7", "fe80::/10")
_NAT64 = ("64:ff9b::/96", "64:ff9b:1::/48")


class BlockedAddress(Exception):
    """An address the outbound policy refuses; `address` and `reason` say which and why."""

    def __init__(self, address: str, reason: str):
        self.address = address
        self.reason = reason
        hint = "" if reason == "unparseable" else f"; allow it with {SETTING}"
        super().__init__(f"address {address} is blocked ({reason}){hint}")


def parse_networks(values: Sequence[str]) -> tuple[IPNetwork, ...]:
    """Parse CIDR strings (or network objects); raise ValueError naming the bad entry."""
    if isinstance(values, str):
        raise ValueError(f"{SETTING} must be a list of CIDR strings, not a string")
    return tuple(_parse_network(value) for value in values)


def check_address(address: str, allowed_networks: Sequence[str]) -> None:
    """Return if `address` may be dialled; raise BlockedAddress (fail closed) otherwise."""
    ip = _parse_address(address)
    if ip is None:
        raise BlockedAddress(address, "unparseable")
    networks = parse_networks(allowed_networks)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    inner = _embedded_v4(ip)
    if _within(ip, networks) or (inner is not None and _within(inner, networks)):
        return
    reason = _reason(ip)
    if reason is None and inner is not None and _reason(inner) is not None:
        reason = f"{_reason(inner)}, embeds {inner}"
    if reason is not None:
        raise BlockedAddress(address, reason)


def _parse_network(value: object) -> IPNetwork:
    """Parse one allowed network, raising ValueError that names it."""
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return value
    if not isinstance(value, str):
        raise ValueError(f"invalid network {value!r} in {SETTING}: not a string")
    try:
        return ipaddress.ip_network(value.strip())
    except ValueError as exc:
        raise ValueError(f"invalid network {value!r} in {SETTING}: {exc}") from None


def _parse_address(address: str) -> IPAddress | None:
    """Parse an IP address, dropping brackets and an IPv6 zone id; None if unparseable."""
    if not isinstance(address, str):
        return None
    text = address.strip().removeprefix("[").removesuffix("]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _embedded_v4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address a NAT64 or 6to4 IPv6 address carries, if any."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in network for network in _networks(_NAT64)):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _within(ip: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    """True if ip lies in one of networks (of its own IP version)."""
    return any(ip.version == net.version and ip in net for net in networks)


def _reason(ip: IPAddress) -> str | None:
    """Name the blocked class ip belongs to, or None if it is a public address."""
    for network, reason in _blocked_ranges(ip.version):
        if ip in network:
            return reason
    if ip.version == 6 and not _is_global_unicast_v6(ip):
        return "reserved"
    return None


def _is_global_unicast_v6(ip: ipaddress.IPv6Address) -> bool:
    """True if ip is in 2000::/3 or in a range that is handled elsewhere."""
    if ip in ipaddress.IPv6Network("2000::/3"):
        return True
    return any(ip in network for network in _networks(_V6_OUTSIDE_GLOBAL_OK))


@functools.lru_cache(maxsize=2)
def _blocked_ranges(version: int) -> tuple[tuple[IPNetwork, str], ...]:
    """Parse the blocked table for one IP version once, on first use."""
    table = _BLOCKED_V4 if version == 4 else _BLOCKED_V6
    return tuple((ipaddress.ip_network(cidr), reason) for cidr, reason in table)


@functools.cache
def _networks(cidrs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """Parse a fixed table of CIDRs once, on first use."""
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)
