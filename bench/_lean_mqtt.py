"""A minimal MQTT 3.1.1 client for load generation: one thread, non-blocking sockets, no locks.

The benchmark's load must cost as little CPU as possible, since it shares the machine with
the server and the broker it measures; paho's per-client threads and byte-wise reads cost
several times more. Only what a load needs: CONNECT, SUBSCRIBE, PUBLISH at QoS 0/1, PUBACK.
"""

from __future__ import annotations

import selectors
import socket
import struct
import time
from collections.abc import Callable

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, PINGREQ = 1, 2, 3, 4, 8, 9, 12


def _remaining(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


class LeanClient:
    """One connection; `on_message(topic, payload, t)` is called from `LeanLoop.poll`."""

    def __init__(
        self, host: str, port: int, client_id: str, on_message: Callable[[str, bytes, float], None]
    ) -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.on_message = on_message
        self.inbox = bytearray()
        self.outbox = bytearray()
        self.next_mid = 1
        body = _string("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 60) + _string(client_id)
        self.sock.sendall(bytes([CONNECT << 4]) + _remaining(len(body)) + body)
        reply = self.sock.recv(4)
        if len(reply) < 4 or reply[0] >> 4 != CONNACK or reply[3] != 0:
            raise ConnectionError(f"broker refused {client_id}: {reply!r}")
        self.sock.setblocking(False)

    def _mid(self) -> int:
        mid = self.next_mid
        self.next_mid = mid % 65535 + 1
        return mid

    def subscribe(self, topic: str, qos: int = 1) -> None:
        body = struct.pack("!H", self._mid()) + _string(topic) + bytes([qos])
        self.outbox += bytes([(SUBSCRIBE << 4) | 0x02]) + _remaining(len(body)) + body

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        head = _string(topic) + (struct.pack("!H", self._mid()) if qos else b"")
        self.outbox += (
            bytes([(PUBLISH << 4) | (qos << 1)]) + _remaining(len(head) + len(payload)) + head + payload
        )

    def flush(self) -> None:
        while self.outbox:
            try:
                sent = self.sock.send(self.outbox)
            except BlockingIOError:
                return
            del self.outbox[:sent]

    def read(self) -> None:
        now = time.perf_counter()
        while True:
            try:
                chunk = self.sock.recv(262144)
            except BlockingIOError:
                break
            if not chunk:
                raise ConnectionError("broker closed the connection")
            self.inbox += chunk
            if len(chunk) < 262144:
                break
        self._parse(now)

    def _parse(self, now: float) -> None:
        buf = self.inbox
        pos = 0
        while True:
            if len(buf) - pos < 2:
                break
            header = buf[pos]
            length, multiplier, i = 0, 1, pos + 1
            while True:
                if i >= len(buf):
                    self.inbox = buf[pos:]
                    return
                byte = buf[i]
                length += (byte & 0x7F) * multiplier
                multiplier *= 128
                i += 1
                if not byte & 0x80:
                    break
            if len(buf) - i < length:
                break
            body = bytes(buf[i : i + length])
            pos = i + length
            if header >> 4 == PUBLISH:
                qos = (header >> 1) & 3
                tlen = struct.unpack_from("!H", body)[0]
                topic = body[2 : 2 + tlen].decode()
                start = 2 + tlen
                if qos:
                    self.outbox += bytes([PUBACK << 4, 2]) + body[start : start + 2]
                    start += 2
                self.on_message(topic, body[start:], now)
        del buf[:pos]


class LeanLoop:
    """Polls many LeanClients from one thread."""

    def __init__(self, clients: list[LeanClient]) -> None:
        self.clients = clients
        self.selector = selectors.DefaultSelector()
        for client in clients:
            self.selector.register(client.sock, selectors.EVENT_READ, client)

    def poll(self, timeout: float) -> None:
        for client in self.clients:
            client.flush()
        for key, _ in self.selector.select(timeout):
            key.data.read()
        for client in self.clients:
            client.flush()

    def close(self) -> None:
        for client in self.clients:
            self.selector.unregister(client.sock)
            client.sock.close()
