"""A TCP proxy the fault tests start and kill by PID, to take a server out of reach and bring it back.

    python tests/tcp_proxy.py LISTEN_PORT unix:/socket/path | tcp:host:port
"""
import socket
import sys
import threading


def pump(source, sink):
    """Copy bytes one way until either end closes, then end both (the other direction's pump wakes up)."""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
                end.close()
            except OSError:
                pass


def _connect(target):
    kind, _, where = target.partition(":")
    if kind == "unix":
        upstream = socket.socket(socket.AF_UNIX)
        upstream.connect(where)
        return upstream
    host, _, port = where.rpartition(":")
    return socket.create_connection((host, int(port)))


def main(port, target):
    listener = socket.create_server(("127.0.0.1", port), reuse_port=False)
    while True:
        client, _ = listener.accept()
        try:
            upstream = _connect(target)
        except OSError:
            client.close()
            continue
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=pump, args=(source, sink), daemon=True).start()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
