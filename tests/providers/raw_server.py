"""A raw local socket server for transport failures requests cannot hide: it reads the request and
answers fixed bytes (a truncated body, a broken chunk, something that is not HTTP), optionally over
TLS with a certificate of the test's choosing."""

import socket
import ssl
import threading

TRUNCATED = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"error": 0'
NOT_HTTP = b"SSH-2.0-OpenSSH_9.2\r\n"


class RawServer:
    """Accepts connections on 127.0.0.1, reads the request and answers `payload` verbatim, then closes.
    With `tls_context`, the socket speaks TLS first."""

    def __init__(self, payload: bytes = b"", tls_context: ssl.SSLContext | None = None):
        self.payload = payload
        self.tls_context = tls_context
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def url(self, scheme="http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            try:
                if self.tls_context is not None:
                    conn = self.tls_context.wrap_socket(conn, server_side=True)
                conn.settimeout(2)
                request = b""
                # Read an HTTP request's whole head, so that closing sends FIN, not RST.
                while b"\r\n\r\n" not in request:
                    chunk = conn.recv(65536)
                    request += chunk
                    if not chunk or not request[:1].isalpha():
                        break  # closed, or not HTTP (e.g. a TLS ClientHello): answer now
                conn.sendall(self.payload)
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the client gave up on the handshake: that is the point
            finally:
                conn.close()

    def close(self):
        self.sock.close()
