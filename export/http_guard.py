"""uvicorn's HTTP/1.1 protocol with read timeouts and a connection limit slow clients cannot fill.

uvicorn (0.55) never times out a half-sent request head or a stalled body,
and its `limit_concurrency` answers 503 to everyone once that many
connections are open, so a few hundred idle clients ("slowloris") would shut
the server down. `guarded_protocol` returns an `H11Protocol` subclass that

* closes a connection whose request head is not complete `header_timeout`
  seconds after the connection opened (or after the previous response), and
  one whose body is not complete `body_timeout` seconds after its head,
  answering a JSON 408 when part of a request had arrived;
* keeps at most `max_connections` connections: when one more arrives, the
  connection that has been waiting longest for its client (idle keep-alive,
  slow head or slow body) is closed to make room (a JSON 503 if it had sent
  part of a request); only when every connection is being answered does the
  newcomer's request get a JSON 503;
* closes a connection whose client stops reading the response for
  `send_timeout` seconds;
* answers malformed HTTP with a JSON 400 rather than uvicorn's text.

Example:

>>> config = uvicorn.Config(app, http=guarded_protocol(10, 30, 128))   # doctest: +SKIP
"""

import json
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("keras_stylegan.serve")
READING = (h11.IDLE, h11.SEND_BODY)  # the client's states while we wait for it


def json_error_bytes(status, reason, message):
    """A complete HTTP/1.1 error response with a JSON body that closes the connection."""
    body = json.dumps({"error": message}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
    return head.encode("ascii") + body


def busy_app(message):
    """An ASGI app answering every request with a JSON 503 (the connection then closes)."""
    body = json.dumps({"error": message}).encode()

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 503, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
    return app


class GuardedH11Protocol(H11Protocol):
    """`H11Protocol` with read/send timeouts and eviction of the slowest client."""

    header_timeout = 10.0
    body_timeout = 30.0
    send_timeout = 30.0
    max_connections = 128

    def connection_made(self, transport):
        self._phase, self._since, self._timer, self._send_timer = None, 0.0, None, None
        super().connection_made(transport)
        self._track()
        self._admit()

    def data_received(self, data):
        super().data_received(data)
        self._track()

    def on_response_complete(self):
        super().on_response_complete()
        self._track()

    def connection_lost(self, exc):
        self._cancel(self._timer)
        self._cancel(self._send_timer)
        super().connection_lost(exc)

    def pause_writing(self):
        super().pause_writing()
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(self.send_timeout, self.transport.abort)

    def resume_writing(self):
        super().resume_writing()
        self._send_timer = self._cancel(self._send_timer)

    def send_400_response(self, msg):
        self._close_with(400, "Bad Request", f"Malformed HTTP request: {msg}")

    # Phases: (client state, request cycle); a timer for each phase that waits on the client.

    def _track(self):
        phase = (self.conn.their_state, self.cycle)
        if phase == self._phase or self.transport.is_closing():
            return
        self._phase, self._since = phase, self.loop.time()
        self._cancel(self._timer)
        self._timer = None
        if self._waiting_for_client():
            timeout = self.header_timeout if phase[0] is h11.IDLE else self.body_timeout
            self._timer = self.loop.call_later(timeout, self._timed_out, phase)

    def _waiting_for_client(self):
        """True while the client owes us a request head or body (and we send nothing)."""
        responding = self.cycle is not None and self.cycle.response_started \
            and not self.cycle.response_complete
        return (self.conn.their_state in READING and not responding
                and not self.transport.is_closing())

    def _timed_out(self, phase):
        self._timer = None
        if phase != self._phase or not self._waiting_for_client():
            return
        if phase[0] is h11.IDLE:
            flag, seconds, what = "--header-timeout", self.header_timeout, "request head"
        else:
            flag, seconds, what = "--body-timeout", self.body_timeout, "request body"
        self._close_with(408, "Request Timeout", f"The {what} did not arrive within "
                         f"{seconds:g} s ({flag}); the connection is closed")

    def _close_with(self, status, reason, message):
        """Closes the connection; answers `status` if the client had sent part of a request."""
        started = self.conn.their_state is not h11.IDLE or self.conn.trailing_data[0]
        if started and not (self.cycle is not None and self.cycle.response_started):
            self.transport.write(json_error_bytes(status, reason, message))
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True  # the app sees a disconnect, sends nothing
            self.cycle.message_event.set()
        self.transport.close()

    def _admit(self):
        """Makes room for this connection by closing the client that has waited longest."""
        open_ = [c for c in self.connections if not c.transport.is_closing()]
        if len(open_) <= self.max_connections:
            return
        waiting = [c for c in open_ if c is not self and isinstance(c, GuardedH11Protocol)
                   and c._waiting_for_client()]
        if waiting:
            oldest = min(waiting, key=lambda c: c._since)
            oldest._close_with(503, "Service Unavailable", "Closed to make room for another "
                               "client: this request was the slowest to arrive "
                               "(--max-connections); retry")
            return
        log.warning("all %d connections are busy (--max-connections)", self.max_connections)
        self.app = busy_app(f"Server busy: {self.max_connections} connections are being "
                            "answered (--max-connections); retry later")

    @staticmethod
    def _cancel(timer):
        if timer is not None:
            timer.cancel()
        return None


def guarded_protocol(header_timeout, body_timeout, max_connections, send_timeout=None):
    """A `GuardedH11Protocol` subclass with these bounds (pass it as `uvicorn.Config(http=)`)."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {
        "header_timeout": float(header_timeout), "body_timeout": float(body_timeout),
        "send_timeout": float(send_timeout or body_timeout),
        "max_connections": int(max_connections)})
