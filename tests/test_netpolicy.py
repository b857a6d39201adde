"""Outbound address policy: a table of addresses, embedded IPv4, and allowed_networks."""

import ipaddress

import pytest

from alpana_hooks.netpolicy import BlockedAddress, check_address, parse_networks

ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "172.32.0.1",
    "100.128.0.1",
    "2606:4700::1111",
    "2001:4860:4860::8888",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
]

BLOCKED = [
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),
    ("100.64.0.1", "cgnat"),
    ("100.127.255.255", "cgnat"),
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("192.0.0.8", "reserved"),
    ("192.0.2.1", "documentation"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("192.88.99.1", "reserved"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.255", "benchmarking"),
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("fc00::1", "private"),
    ("fd00:ec2::254", "private"),
    ("ff02::1", "multicast"),
    ("2001:db8::1", "documentation"),
    ("100::1", "discard"),
    ("5f00::1", "reserved"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:169.254.169.254", "link-local"),
    ("::ffff:10.0.0.1", "private"),
    ("64:ff9b::a9fe:a9fe", "link-local, embeds 169.254.169.254"),
    ("64:ff9b::7f00:1", "loopback, embeds 127.0.0.1"),
    ("64:ff9b:1::a9fe:a9fe", "private"),
    ("2002:a9fe:a9fe::1", "link-local, embeds 169.254.169.254"),
    ("2002:7f00:1::1", "loopback, embeds 127.0.0.1"),
    ("2002:c0a8:101::1", "private, embeds 192.168.1.1"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "reserved"),
    ("::7f00:1", "reserved"),
    ("4000::1", "reserved"),
]


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address):
    check_address(address, [])


@pytest.mark.parametrize(("address", "reason"), BLOCKED)
def test_special_addresses_are_blocked(address, reason):
    with pytest.raises(BlockedAddress) as caught:
        check_address(address, [])
    assert caught.value.address == address
    assert caught.value.reason == reason
    assert str(caught.value) == (
        f"address {address} is blocked ({reason}); allow it with [security] allowed_networks"
    )


def test_is_global_alone_would_miss_these():
    """NAT64 and 6to4 wrappers of 169.254.169.254 (cloud metadata), which Python calls global, are still blocked."""
    for address in ["64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1"]:
        if ipaddress.ip_address(address).is_global:
            with pytest.raises(BlockedAddress):
                check_address(address, [])


@pytest.mark.parametrize("address", ["not-an-ip", "", "127.1", "0x7f.1", "2130706433", "1.2.3.4.5"])
def test_unparseable_is_blocked(address):
    with pytest.raises(BlockedAddress, match=r"\(unparseable\)"):
        check_address(address, ["0.0.0.0/0", "::/0"])


@pytest.mark.parametrize("address", ["127.0.0.1", "127.9.9.9", "::ffff:127.0.0.1", "[::ffff:127.0.0.1]",
                                     "64:ff9b::7f00:1", "2002:7f00:1::1"])
def test_allowed_networks_open_loopback(address):
    check_address(address, ["127.0.0.0/8"])


@pytest.mark.parametrize("address", ["10.0.0.1", "::1", "169.254.169.254", "::ffff:10.0.0.1"])
def test_allowed_networks_open_nothing_else(address):
    with pytest.raises(BlockedAddress):
        check_address(address, ["127.0.0.0/8"])


def test_allowed_ipv6_network():
    check_address("fd00::5", ["fd00::/64"])
    with pytest.raises(BlockedAddress):
        check_address("fd00:1::5", ["fd00::/64"])


def test_allowed_networks_accept_parsed_networks():
    check_address("10.0.0.1", parse_networks(["10.0.0.0/8"]))


def test_parse_networks():
    assert parse_networks(["127.0.0.0/8", "::1/128", "10.1.2.3"]) == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
        ipaddress.ip_network("10.1.2.3/32"),
    )
    assert parse_networks([]) == ()


@pytest.mark.parametrize("bad", ["10.0.0.1/8", "300.0.0.0/8", "localhost", "", "10.0.0.0/33"])
def test_parse_networks_names_the_bad_entry(bad):
    with pytest.raises(ValueError, match=repr(bad).replace(".", r"\.").replace("/", "/")):
        parse_networks(["127.0.0.0/8", bad])


def test_parse_networks_refuses_a_bare_string():
    with pytest.raises(ValueError, match="list"):
        parse_networks("127.0.0.0/8")
