#!/usr/bin/env python3
"""Seconds from START (a `date +%s.%N` stamp) to the first guest frame that is not one flat
colour, read through QMP `screendump` on the VM's monitor socket every 50 ms.

    first_frame.py QMP_SOCKET START [TIMEOUT_SECONDS]
"""
import json
import os
import socket
import sys
import tempfile
import time


def qmp(path):
    for _ in range(200):
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
            break
        except OSError:
            time.sleep(0.05)
    else:
        sys.exit(f"first_frame.py: cannot connect to {path}")
    stream = sock.makefile("rw")
    stream.readline()  # greeting
    return stream


def call(stream, command, **arguments):
    stream.write(json.dumps({"execute": command, "arguments": arguments}) + "\n")
    stream.flush()
    while True:
        reply = json.loads(stream.readline())
        if "return" in reply or "error" in reply:
            return reply


def has_picture(ppm_path):
    with open(ppm_path, "rb") as f:
        data = f.read()
    # P6 header: magic, width height, maxval, each ended by whitespace.
    fields, offset = [], 0
    while len(fields) < 4:
        end = data.index(b"\n", offset) if b"\n" in data[offset:] else len(data)
        fields += data[offset:end].split()
        offset = end + 1
    pixels = data[offset:]
    first = pixels[:3]
    return any(pixels[i:i + 3] != first for i in range(0, len(pixels), 3 * 13))


def main():
    socket_path, start = sys.argv[1], float(sys.argv[2])
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 300
    stream = qmp(socket_path)
    call(stream, "qmp_capabilities")
    shot = os.path.join(tempfile.mkdtemp(), "frame.ppm")
    while time.time() - start < timeout:
        reply = call(stream, "screendump", filename=shot)
        if "return" in reply and os.path.exists(shot) and has_picture(shot):
            print(f"{time.time() - start:.2f}")
            return
        time.sleep(0.05)
    sys.exit("first_frame.py: no guest frame before the timeout")


if __name__ == "__main__":
    main()
