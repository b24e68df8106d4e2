#!/usr/bin/env python3
"""A loopback HTTP proxy for the sync client's tests: it forwards every request to the hub,
but for the first N POSTs to /v1/entries it closes the worker's connection instead of passing
the hub's answer back -- the hub has the entry, the worker never hears so ("the line dropped
mid-send"). Prints the port it listens on. Usage: dropping-proxy.py HUB_HOST HUB_PORT N"""
import http.client
import os
import socket
import socketserver
import sys
import threading

upstream_host, upstream_port, drops = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lock = threading.Lock()


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        global drops
        line = self.rfile.readline()
        if not line:
            return
        method, path, _ = line.decode("latin-1").split(" ", 2)
        headers = {}
        while True:
            header = self.rfile.readline().decode("latin-1")
            if header in ("\r\n", "\n", ""):
                break
            name, value = header.split(":", 1)
            headers[name.strip()] = value.strip()
        length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
        body = self.rfile.read(length) if length else None
        upstream = http.client.HTTPConnection(upstream_host, upstream_port, timeout=60)
        forwarded = {k: v for k, v in headers.items() if k.lower() not in ("connection", "host", "content-length")}
        upstream.request(method, path, body=body, headers=forwarded)
        response = upstream.getresponse()
        data = response.read()
        with lock:
            drop = method == "POST" and path.startswith("/v1/entries") and drops > 0
            if drop:
                drops -= 1
        if drop:
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        head = f"HTTP/1.1 {response.status} {response.reason}\r\n"
        for name, value in response.getheaders():
            if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                head += f"{name}: {value}\r\n"
        head += f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
        self.wfile.write(head.encode("latin-1") + data)


def exit_with_parent():
    # The test holds our standard input: when it closes (the test ended, however), so do we.
    sys.stdin.read()
    os._exit(0)


threading.Thread(target=exit_with_parent, daemon=True).start()
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer.daemon_threads = True
server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
