"""How Tether's HTTP servers keep idle connections open.

A client that reuses a connection its server has just closed gets a broken read, not an
answer. Clients keep idle connections a few seconds (httpx: 5 s, Tether's own provider and
webhook clients included); load balancers about a minute (AWS ALB: 60 s). A server must keep
them longer than any of its clients does, or requests fail now and then under load; uvicorn's
default, 5 s, is no longer than httpx's.
"""

KEEP_ALIVE_SECONDS = 75
