"""Refuse loopback, private, link-local and other non-public addresses unless the config allows them.

Used by fetch.py for every source URL and redirect hop, and by channels for apprise targets.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from watcher.errors import FetchError, Reason


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def _refuse(host: str, address: str) -> FetchError:
    return FetchError(
        f"{host} resolves to {address}, a loopback/private/link-local address "
        "(set allow_private_networks: true to allow it)",
        Reason.blocked_address,
    )


async def check_host(host: str, allow_private: bool, port: int | None = None) -> None:
    """Raise FetchError(blocked_address) when `host` resolves to a non-public address."""
    if allow_private or _checked_literal(host):
        return
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port or 0, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise _unresolved(host, exc) from None
    _check_resolved(host, infos)


def check_host_sync(host: str, allow_private: bool) -> None:
    """Blocking variant for code outside the event loop (channel checks)."""
    if allow_private or _checked_literal(host):
        return
    try:
        infos = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise _unresolved(host, exc) from None
    _check_resolved(host, infos)


def _checked_literal(host: str) -> bool:
    """True when `host` is an IP literal that is public; raise when it is not public."""
    literal = _literal(host)
    if literal is None:
        return False
    if not is_public(literal):
        raise _refuse(host, literal)
    return True


def _check_resolved(host: str, infos: list[tuple]) -> None:  # type: ignore[type-arg]
    for info in infos:
        address = str(info[4][0])
        if not is_public(address):
            raise _refuse(host, address)


def _unresolved(host: str, exc: OSError) -> FetchError:
    return FetchError(f"cannot resolve {host}: {exc.strerror or exc}", Reason.dns)


def url_host(url: str) -> str:
    return urlsplit(url).hostname or ""
