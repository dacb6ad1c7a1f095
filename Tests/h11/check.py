"""Reads a coupond node's responses with h11, a strict HTTP/1.1 client (pinned by the Makefile).

usage: check.py PORT --get PATH[<TAB>AUTHORIZATION]... [--post-only PATH[<TAB>AUTHORIZATION]...]
                [--chunked-post PATH<TAB>AUTHORIZATION<TAB>BODY<TAB>STATUS...]

For every GET path: HEAD then GET on one keep-alive connection (a HEAD response carrying a
body would desynchronise the next response, which h11 then rejects); the same requests and a
POST `{}` to each POST-only path, pipelined in one write; each POST-only path answered 405 to HEAD, with Allow and no body,
on a connection that then still serves a GET. Each chunked POST: h11 sends the body as
`Transfer-Encoding: chunked` (one chunk per 7 bytes), the answer must have STATUS, and the
same connection must then serve a GET. Prints one line per check and `FIGURE:` lines;
exits 1 on the first failure.
"""

import socket
import sys

import h11


class Failure(Exception):
    pass


def connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def headers(auth, host, body=None):
    result = [("Host", host)]
    if body is not None:
        result += [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    if auth:
        result.append(("Authorization", auth))
    return result


def read_response(conn, sock):
    """Events of one response until EndOfMessage; returns (response, body bytes)."""
    response = None
    body = b""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = sock.recv(65536)
            conn.receive_data(data)  # b"" at EOF: h11 raises if a message was cut short
            continue
        if isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.InformationalResponse):
            continue
        elif isinstance(event, h11.Data):
            body += bytes(event.data)
        elif isinstance(event, h11.EndOfMessage):
            return response, body
        elif isinstance(event, h11.ConnectionClosed):
            raise Failure("connection closed before the response ended")
        else:
            raise Failure(f"unexpected event {event!r}")


def header(response, name):
    for key, value in response.headers:
        if key.decode().lower() == name:
            return value.decode()
    return None


def request_bytes(conn, method, path, auth, host, body=None):
    data = conn.send(h11.Request(method=method, target=path, headers=headers(auth, host, body)))
    if body is not None:
        data += conn.send(h11.Data(data=body))
    return data + conn.send(h11.EndOfMessage())


def exchange(conn, sock, method, path, auth, host, send=True, body=None):
    data = request_bytes(conn, method, path, auth, host, body)
    if send:
        sock.sendall(data)
    response, body = read_response(conn, sock)
    if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
        raise Failure(f"{method} {path}: the server closed a keep-alive connection")
    conn.start_next_cycle()
    return response, body


def check_head_then_get(port, paths):
    host = f"127.0.0.1:{port}"
    sock = connect(port)
    conn = h11.Connection(h11.CLIENT)
    for path, auth in paths:
        head, head_body = exchange(conn, sock, "HEAD", path, auth, host)
        get, get_body = exchange(conn, sock, "GET", path, auth, host)
        if head_body:
            raise Failure(f"HEAD {path}: h11 read a body")
        if head.status_code != get.status_code:
            raise Failure(f"HEAD {path} answered {head.status_code}, GET {get.status_code}")
        if head.status_code not in (204, 304) and header(head, "content-length") is None:
            raise Failure(f"HEAD {path}: no Content-Length")
        if path == "/healthz" and int(header(head, "content-length")) != len(get_body):
            raise Failure(f"HEAD {path}: Content-Length {header(head, 'content-length')} but GET sent {len(get_body)}")
        print(f"ok HEAD+GET {path}: {head.status_code}, GET body {len(get_body)} bytes")
    sock.close()


def check_pipelined(port, gets, posts):
    """Every GET and HEAD in one write, then every response read in order."""
    host = f"127.0.0.1:{port}"
    sock = connect(port)
    conn = h11.Connection(h11.CLIENT)
    requests = [(method, path, auth, None) for path, auth in gets for method in ("GET", "HEAD")]
    requests += [("POST", path, auth, b"{}") for path, auth in posts]
    wire = b""
    for method, path, auth, body in requests:
        wire += request_bytes(h11.Connection(h11.CLIENT), method, path, auth, host, body)
    sock.sendall(wire)
    statuses = {}
    for method, path, auth, body in requests:
        response, received = exchange(conn, sock, method, path, auth, host, send=False, body=body)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if method == "HEAD" and received:
            raise Failure(f"pipelined HEAD {path}: body")
    print(f"ok pipelined: {len(requests)} responses (GET, HEAD, POST of every route) read in order: statuses {statuses}")
    print(f"FIGURE: h11 read {len(requests)} pipelined responses on one connection")
    sock.close()


def check_post_only(port, paths):
    host = f"127.0.0.1:{port}"
    sock = connect(port)
    conn = h11.Connection(h11.CLIENT)
    for path, auth in paths:
        response, body = exchange(conn, sock, "HEAD", path, auth, host)
        allow = header(response, "allow") or ""
        if response.status_code != 405 or "POST" not in allow.split(", ") or body:
            raise Failure(f"HEAD {path}: {response.status_code}, Allow {allow!r}, body {len(body)}")
        # The raw bytes: nothing may follow the 405's head before the next response.
        response, body = exchange(conn, sock, "GET", "/healthz", auth, host)
        if response.status_code != 200:
            raise Failure(f"GET /healthz after HEAD {path}: {response.status_code}")
        print(f"ok HEAD {path}: 405, Allow {allow}, no body; next response intact")
    sock.close()


def check_chunked_posts(port, posts):
    host = f"127.0.0.1:{port}"
    sock = connect(port)
    conn = h11.Connection(h11.CLIENT)
    for path, auth, body, status in posts:
        fields = [("Host", host), ("Transfer-Encoding", "chunked"), ("Content-Type", "text/plain")]
        if auth:
            fields.append(("Authorization", auth))
        data = conn.send(h11.Request(method="POST", target=path, headers=fields))
        for start in range(0, len(body), 7):
            data += conn.send(h11.Data(data=body[start:start + 7]))
        sock.sendall(data + conn.send(h11.EndOfMessage()))
        response, received = read_response(conn, sock)
        if response.status_code != status:
            raise Failure(f"chunked POST {path}: {response.status_code} {received[:200]!r}, expected {status}")
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
            raise Failure(f"chunked POST {path}: the server closed a keep-alive connection")
        conn.start_next_cycle()
        response, _ = exchange(conn, sock, "GET", "/healthz", auth, host)
        if response.status_code != 200:
            raise Failure(f"GET /healthz after chunked POST {path}: {response.status_code}")
        print(f"ok chunked POST {path}: {status} for {len(body)} bytes in {(len(body) + 6) // 7} chunks; next response intact")
    sock.close()


def main(argv):
    port = int(argv[1])
    gets, posts, chunked, target = [], [], [], None
    for arg in argv[2:]:
        if arg == "--get":
            target = gets
        elif arg == "--post-only":
            target = posts
        elif arg == "--chunked-post":
            target = chunked
        elif target is chunked:
            path, auth, body, status = arg.split("\t")
            chunked.append((path, auth, body.encode(), int(status)))
        else:
            path, _, auth = arg.partition("\t")
            target.append((path, auth))
    try:
        check_head_then_get(port, gets)
        check_pipelined(port, gets, posts)
        check_post_only(port, posts)
        check_chunked_posts(port, chunked)
    except (Failure, h11.ProtocolError, OSError) as error:
        print(f"FAIL: {type(error).__name__}: {error}")
        return 1
    print(f"h11 {h11.__version__}: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
