"""Outgoing HTTP to identity providers, which organisations' admins name: never into our own network.

Anyone may start a sign-in at an organisation's provider, so whoever sets its issuer decides where
this server connects. Each connection resolves the host itself, refuses it if any of its addresses
is loopback, private, link-local (cloud metadata at 169.254.169.254), multicast, reserved or
otherwise not globally reachable, and then connects to an address it checked: a DNS answer that
changes between the check and the connection (rebinding) cannot slip past. TLS still verifies the
certificate against the host name. ``CODO_OIDC_ALLOW_PRIVATE_NETWORKS`` lifts the address check for
on-premises providers; timeouts and the size cap stay.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing

import httpcore
import httpx

CONNECT_SECONDS = 3.0
READ_SECONDS = 5.0
# Discovery documents, key sets, token and UserInfo answers are a few kilobytes.
MAX_RESPONSE_BYTES = 512 * 1024

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddress(Exception):
    """The host resolves to an address outgoing sign-in traffic must not reach."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to {address}, which is not a public address")
        self.host = host
        self.address = address


def is_public(address: str) -> bool:
    ip: Address = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, with every TCP connection checked before it is made."""

    def __init__(self, *, allow_private: bool, allowed: typing.Callable[[str], bool] = is_public) -> None:
        self.allow_private = allow_private
        self.allowed = allowed
        self._inner = httpcore.AnyIOBackend()

    async def resolve(self, host: str, port: int, timeout: float | None) -> list[str]:  # noqa: ASYNC109
        try:
            infos = await asyncio.wait_for(
                asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM),
                timeout or CONNECT_SECONDS,
            )
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {type(exc).__name__}") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}")
        if not self.allow_private:
            for address in addresses:
                if not self.allowed(address):
                    raise BlockedAddress(host, address)
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        error: Exception | None = None
        for address in await self.resolve(host, port, timeout):
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress(path, "a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def private_address(url: str) -> str | None:
    """A non-public address the URL's host resolves to now, if any (for telling an admin early).

    Only advice: what counts is the check when connecting, since the answer may change later.
    """
    host = httpx.URL(url).host
    if not host:
        return None
    try:
        addresses = await GuardedBackend(allow_private=True).resolve(host, 443, CONNECT_SECONDS)
    except httpcore.ConnectError:
        return None
    return next((a for a in addresses if not is_public(a)), None)


class GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, *, allow_private: bool, allowed: typing.Callable[[str], bool] = is_public) -> None:
        # No proxies from the environment: the check is about where this process connects.
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=20,
            max_keepalive_connections=5,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(allow_private=allow_private, allowed=allowed),
        )


def client(*, allow_private: bool, allowed: typing.Callable[[str], bool] = is_public) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=GuardedTransport(allow_private=allow_private, allowed=allowed),
        timeout=httpx.Timeout(READ_SECONDS, connect=CONNECT_SECONDS),
        follow_redirects=False,
        trust_env=False,
    )


async def read_capped(response: httpx.Response, limit: int = MAX_RESPONSE_BYTES) -> bytes:
    """The body of a streamed response, or ``ValueError`` once it grows past ``limit``."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ValueError(f"the answer is larger than {limit} bytes")
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise ValueError(f"the answer is larger than {limit} bytes")
    return bytes(body)
