#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets from ../shared/vectors and a few hand-made cases.

Run from anywhere: fuzz/make_seeds.py [shared_dir]. Files are named seed_*; inputs libFuzzer found
(added by hand, see fuzz/README.md) keep their hash names and are never touched by this script.
"""
import base64
import hashlib
import hmac
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "shared")
if not os.path.exists(os.path.join(SHARED, "vectors")):
    SHARED = "/work/shared"


def load(name):
    with open(os.path.join(SHARED, "vectors", name), encoding="utf-8") as f:
        return json.load(f)["vectors"]


EVENTS = [v["body"].encode() for v in load("events.json")]
SIGS = load("perfectparser_signatures.json")
for v in SIGS:
    v["body"] = base64.b64decode(v["body_b64"])


def write(target, items):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("seed_"):
            os.remove(os.path.join(d, f))
    for i, data in enumerate(items):
        with open(os.path.join(d, "seed_%03d" % i), "wb") as f:
            f.write(data)


def sign(key, body):
    return hmac.new(key.encode() if isinstance(key, str) else key, body, hashlib.sha256).hexdigest()


# signature_property: 4-byte selector, secret line, body.
items = []
selectors = [0, 1, 2, 3, 4, 5, 0x20 * 3 + 1, 0xFFFFFFFF, 123456789, 0x80000000, 7 * 3 + 2, 255 * 3 + 1]
for n, v in enumerate(SIGS):
    for secret in v["signing_secrets"]:
        items.append(struct.pack("<I", selectors[n % len(selectors)]) + secret.encode() + b"\n" + v["body"])
for n, body in enumerate(EVENTS):
    items.append(struct.pack("<I", selectors[n % len(selectors)]) + b"wh_sec_fuzz_0123456789abcdef\n" + body)
items.append(struct.pack("<I", 2) + b"k\n")
items.append(struct.pack("<I", 1) + b"x" * 100 + b"\n{}")
write("signature_property", items)

# signature_differential: secret A, secret B, mode byte, header line, body.
items = []
for v in SIGS:
    secrets = v["signing_secrets"] + [""]
    header = v["signature_header"]
    mode = 0 if header is None else 1
    items.append(secrets[0].encode() + b"\n" + (secrets[1].encode() if len(secrets) > 2 else b"") + b"\n" +
                 bytes([mode]) + (header or "").encode() + b"\n" + v["body"])
for n, body in enumerate(EVENTS[:8]):
    for mode in (2, 6, 10, 14):
        items.append(b"wh_sec_a\nwh_sec_b\n" + bytes([mode]) + b"\x01\x00\x01\x00\x01\x01\x01\x00\n" + body)
items.append(b"\n\n\x01x\n")
items.append(b"k\n\n\x01" + b"0" * 64 + b"\n")
items.append(b"k\n\n\x01" + b"G" * 64 + b"\n")
items.append(b"k\n\n\x01 " + b"a" * 63 + b"\xff\n")
write("signature_differential", items)

# tokens: accepted values, "--", header lines.
items = []
for v in SIGS:
    if v["static_secret_config"]:
        h = v["static_secret_header"]
        items.append(v["static_secret_config"].encode() + b"\n--\n" +
                     (b"X-Webhook-Secret: " + h.encode() + b"\n" if h is not None else b"") +
                     (b"Authorization: " + h.encode() + b"\n" if h is not None else b""))
items += [
    b"Bearer token-new-0001\nBearer token-old-0002\n--\nAuthorization: Bearer token-old-0002\nX-Webhook-Secret:Bearer token-new-0001\n",
    b"Bearer token-new-0001\nBearer token-old-0002\n--\nauthorization:  Bearer token-new-0001\t\n",
    b"same-value-123\nsame-value-123\n--\nAuthorization: same-value-123\nX-WEBHOOK-SECRET: same-value-12\n",
    b"short\n--\nAuthorization: short\n",
    b"\n--\nAuthorization:\n",
    b"--\nAuthorization: x\n",
    b"a-token-of-length-32-characters!\nb\nc\nd\n--\nAuthorization: d\nAuthorization: a\n",
]
write("tokens", items)

# forwarded_for: peer, then P/A/X/x lines.
items = [
    b"34.65.1.2\nA 34.65.0.0/16\n",
    b"34.66.1.2\nA 34.65.0.0/16\n",
    b"::ffff:34.65.1.2\nA 34.65.0.0/16\n",
    b"[2001:db8::7]\nA 2001:db8::/32\n",
    b"2001:db8::7\nA ::/0\n",
    b"34.65.1.2\nA ::/0\n",
    b"10.0.0.1\nP 10.0.0.0/8\nA 34.65.0.0/16\nX 34.65.9.9\n",
    b"10.0.0.1\nP 10.0.0.0/8\nA 34.65.0.0/16\nX 34.65.9.9, 10.1.1.1\n",
    b"10.0.0.1\nP 10.0.0.0/8\nA 34.65.0.0/16\nX 1.2.3.4, 34.65.9.9\n",
    b"10.0.0.1\nP 10.0.0.0/8\nA 34.65.0.0/16\nX 34.65.9.9\nx 10.2.2.2,\t10.3.3.3\n",
    b"10.0.0.1\nP 10.0.0.0/8\nA 34.65.0.0/16\nX garbage, 34.65.1.1\n",
    b"10.0.0.1\nP 10.0.0.0/8\nA 10.0.0.0/8\nX 10.9.9.9\n",
    b"10.0.0.1\nP 10.0.0.0/8\nA 34.65.0.0/16\nX \n",
    b"fd00::1\nP fd00::/8\nA 2001:db8::/32\nX 2001:db8::5, fd00::2\n",
    b"fd00::1\nP fd00::/8\nP 127.0.0.1\nA 2001:db8::/32\nX [2001:db8::5]\n",
    b"127.0.0.1\nP 127.0.0.1\nA 203.0.113.0/24\nX 203.0.113.7\n",
    b"34.65.1.2\nA 34.65.0.0/33\n",
    b"34.65.1.2\nA 34.65.0.0/\n",
    b"34.65.1.2\nA 34.65.0.0/+16\n",
    b"34.65.1.2\nA 34.65.0.0/016\n",
    b"34.65.1.2\nA 2001:db8::/129\n",
    b"34.65.1.2\nA ::ffff:34.65.0.0/112\n",
    b"34.65.1.2\nA ::ffff:0:0/95\n",
    b"34.65.1.2\nA 34.65.1.2\n",
    b"not-an-ip\nA 0.0.0.0/0\n",
    b"\nA 0.0.0.0/0\n",
    b"1.2.3.4\nA 0.0.0.0/0\nP 0.0.0.0/0\nX 5.6.7.8,9.9.9.9\n",
    b"::1\nA ::1/128\nP ::/0\nX ::2\n",
    b"1.2.3.4\nA [1.2.3.4]/32\n",
    b"1.2.3.4\nA 1.2.3\n",
    b"1:2:3:4:5:6:7:8\nA 1:2:3:4:5:6:7:0/112\n",
    b"::ffff:1.2.3.4\nA 0.0.0.0/0\nOther: x\n",
]
write("forwarded_for", items)

# receiver: selector byte, header lines, empty line, body.
KEY = "wh_sec_fuzz_0123456789abcdef"
items = []
pp = [b for b in EVENTS if b"parashift" not in b and b"document-received" not in b and b"topic" not in b]
ps = [b for b in EVENTS if b not in pp]
for body in EVENTS:
    items.append(b"\x00X-PerfectParser-Signature: " + sign(KEY, body).encode() +
                 b"\nX-Webhook-Secret: static-token-1\nContent-Type: application/json\n\n" + body)
    items.append(b"\x01Content-Type: application/json\n\n" + body)
    items.append(b"\x05\n" + body)
    items.append(b"\x02Authorization: Bearer fuzz-token-1\n\n" + body)
    items.append(b"\x0aAuthorization: Bearer fuzz-token-2\nX-Forwarded-For: 203.0.113.9\n\n" + body)
    items.append(b"\x03\n" + body)
    items.append(b"\x11\n" + body)
    items.append(b"\x13\n" + body)
    items.append(b"\x21\n" + body)
    items.append(b"\x10X-PerfectParser-Signature: " + sign(KEY, body).encode() + b"\nX-Webhook-Secret: static-token-1\n\n" + body)
items += [
    b"\x00Content-Encoding: gzip\n\n\x1f\x8b",
    b"\x00X-PerfectParser-Signature: " + sign("wh_sec_fuzz_rotated", b"{}").encode() + b"\n\n{}",
    b"\x00X-PerfectParser-Signature: zz\n\n{}",
    b"\x00X-PerfectParser-Signature: " + sign(KEY, b"{}").encode() + b"\n\n{}",
    b"\x01\n" + b"x" * 5000,
    b"\x02Authorization: nope\n\n{}",
    b"\x0aAuthorization: Bearer fuzz-token-1\nX-Forwarded-For: 8.8.8.8\n\n{}",
    b"\x0aAuthorization: Bearer fuzz-token-1\nX-Forwarded-For: junk\n\n{}",
    b"\x02\n{}",
    b"\x11\n" + EVENTS[0].replace(b"ext_123", b"ext_fail"),
    b"\x01\n" + EVENTS[0].replace(b"ext_123", b"ext_fail"),
    b"\x00X-Webhook-Secret: static-token-1\n\n{}",
    b"\x00X-PerfectParser-Signature: " + sign(KEY, b"{}").encode() + b"\nX-Webhook-Secret: wrong-token\n\n{}",
    b"\x01Content-Encoding: br\n\n{}",
    b"\x00X-PerfectParser-Signature: " + b"0" * 64 + b"\nX-Webhook-Secret: static-token-1\n\n{}",
    b"\x11\n" + EVENTS[0].replace(b"ext_123", b"ext_throw"),
    b"\x01\n" + EVENTS[0].replace(b"ext_123", b"ext_throw"),

    b"\x01Content-Encoding: identity\n\n" + EVENTS[1],
]
write("receiver", items)

# beast_request: chunk-size byte, raw HTTP.
def http(body, headers=b"", version=b"1.1", chunk=b"\x3f"):
    return chunk + b"POST /webhooks/perfectparser HTTP/" + version + b"\r\nHost: 127.0.0.1\r\n" + headers + \
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body

items = []
for n, body in enumerate(EVENTS[:12]):
    items.append(http(body, b"X-PerfectParser-Signature: " + sign(KEY, body).encode() + b"\r\nContent-Type: application/json\r\n",
                      chunk=bytes([n * 5])))
items += [
    http(b"{}"),
    http(b"{}", b"X-PerfectParser-Signature: " + sign(KEY, b"{}").encode() + b"\r\n", b"1.0"),
    http(b"x" * 3000, b"X-PerfectParser-Signature: 00\r\n"),
    http(b"\x1f\x8b", b"Content-Encoding: gzip\r\n"),
    http(b"{}", b"Expect: 100-continue\r\nConnection: close\r\n"),
    b"\x07POST /h HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    b"\x00POST /h HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n900\r\n" + b"y" * 2304 + b"\r\n0\r\n\r\n",
    b"\x01GET / HTTP/1.1\r\n\r\n",
    b"\x02POST /h HTTP/1.0\r\n\r\n{\"a\":1}",
    b"\x03POST /h HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    b"\x04garbage\r\n\r\n",
]
write("beast_request", items)

# The parsers: every body of the vectors, by provider (a body the parser refuses is a seed too).
write("parse_perfectparser", [b for b in EVENTS])
write("parse_parashift", [b for b in EVENTS])
print("seeds written")
