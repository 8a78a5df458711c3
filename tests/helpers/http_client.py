"""A plain HTTP client call to a server on 127.0.0.1, for the serving tests."""

import http.client


def request(port, method, path, body=None, headers=None, timeout=60):
    """(status, Content-Type, body bytes) of one request on its own connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type"), resp.read()
    finally:
        conn.close()
