"""Where a decision came from: the client's truncated IP address and its user agent."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from django.http import HttpRequest

USER_AGENT_MAX = 300


def truncate_ip(address: str | None) -> str | None:
    """Keep the network, drop the host: /24 for IPv4, /48 for IPv6. Garbage gives None."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


@dataclass(frozen=True)
class Provenance:
    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest) -> Provenance:
        # REMOTE_ADDR only: X-Forwarded-For is set by the client unless a trusted proxy
        # rewrites REMOTE_ADDR, which is the deployment's job, not ours to guess.
        return cls(
            ip_address=truncate_ip(request.META.get("REMOTE_ADDR")),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX],
        )


NO_PROVENANCE = Provenance()
