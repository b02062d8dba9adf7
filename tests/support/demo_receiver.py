"""The demo's Devo: a mutual-TLS syslog receiver on loopback (it demands a client certificate
signed by the demo's CA, as Devo does). Each connection is read to its end, the records are
appended to OUT (one "tag<TAB>message" line each), then the TLS close is answered.

    demo_receiver.py PORT CA CERT KEY OUT
"""

import re
import socket
import ssl
import sys
import threading


def records(data):
    """Syslog records, newline-framed or octet-counted ("N <14>..."), as (tag, message)."""
    out, i = [], 0
    while i < len(data):
        head = data[i:i + 12].split(b" ", 1)[0]
        if head.isdigit():
            n = int(head)
            start = i + len(head) + 1
            record, i = data[start:start + n].rstrip(b"\n"), start + n
        else:
            end = data.find(b"\n", i)
            end = len(data) if end < 0 else end
            record, i = data[i:end], end + 1
        found = RECORD.match(record)
        if found:
            out.append((found[1].decode(), found[2].decode(errors="replace")))
    return out


# <14>Mmm dd hh:mm:ss host tag: message (the day is space-padded)
RECORD = re.compile(rb"<\d+>\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ ([^:\s]+): (.*)", re.S)


def serve(conn, lock, out_path):
    chunks = []
    try:
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
        with lock, open(out_path, "a", encoding="utf-8") as out:
            for tag, message in records(b"".join(chunks)):
                out.write(f"{tag}\t{message}\n")
        conn.unwrap().close()
    except (ssl.SSLError, OSError):
        conn.close()


def main():
    port, ca, cert, key, out_path = sys.argv[1:6]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.load_verify_locations(ca)
    context.verify_mode = ssl.CERT_REQUIRED
    listener = socket.create_server(("127.0.0.1", int(port)))
    lock = threading.Lock()
    while True:
        raw, _ = listener.accept()
        try:
            conn = context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            continue
        threading.Thread(target=serve, args=(conn, lock, out_path), daemon=True).start()


if __name__ == "__main__":
    main()
