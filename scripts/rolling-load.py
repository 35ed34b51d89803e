"""Load for a rolling restart (scripts/rolling-restart): boto3 clients against every region of a
keyraft deployment described by a dev.json, until a stop file appears, then one JSON report.

Each worker thread belongs to one region and cycles Encrypt, Decrypt (of its own ciphertext),
GenerateDataKey and, every eighth request, CreateKey, spreading requests over the region's nodes.
botocore's own retries are off. A request that got no HTTP response (connection refused, a
connection closed under it by a stopping node, a TLS handshake cut off by Docker's port proxy
while the container is down) goes to the region's next node, as a load balancer
or the SDK's retry would send it; every other error, and a request that finds no node answering
within 30 s, is a failed request.

  rolling-load.py DEV_JSON STOP_FILE REPORT_JSON [--workers-per-region N]
"""

import argparse
import json
import os
import threading
import time

import boto3
import botocore.config
import botocore.exceptions

NOT_RECEIVED = (
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectionClosedError,
    botocore.exceptions.ConnectTimeoutError,
)


def not_received(e):
    """Whether the request never reached a node: the connection was refused or closed before a
    response, or the TLS handshake ended in EOF (Docker's port proxy accepts the connection on
    the host and closes it when the container is down), so no HTTP request was sent."""
    if isinstance(e, NOT_RECEIVED):
        return True
    return isinstance(e, botocore.exceptions.SSLError) and "EOF" in str(e)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dev_json")
    ap.add_argument("stop_file")
    ap.add_argument("report")
    ap.add_argument("--workers-per-region", type=int, default=2)
    args = ap.parse_args()
    with open(args.dev_json) as f:
        dev = json.load(f)
    verify = dev.get("ca_bundle") or True
    config = botocore.config.Config(
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=3,
        read_timeout=15,
    )
    session = boto3.session.Session(
        aws_access_key_id=dev["access_key_id"], aws_secret_access_key=dev["secret_access_key"]
    )
    lock = threading.Lock()
    report = {"ok": {}, "failed": [], "failovers": 0, "latencies_ms": [], "regions": sorted(dev["regions"])}

    def worker(region, w):
        endpoints = dev["regions"][region]["endpoints"]
        clients = [
            session.client("kms", region_name=region, endpoint_url=e, verify=verify, config=config)
            for e in endpoints
        ]
        key = None
        blob = None
        plain = f"rolling {region} {w}".encode()
        i = 0
        ok, failed, failovers, lat = {}, [], 0, []
        while not os.path.exists(args.stop_file):
            node = (w + i) % len(clients)
            if key is None:
                op = "CreateKey"
            elif i % 8 == 7:
                op = "CreateKey"
            elif i % 8 in (1, 3, 5) and blob is not None:
                op = "Decrypt"
            elif i % 8 == 6:
                op = "GenerateDataKey"
            else:
                op = "Encrypt"
            t0 = time.monotonic()
            deadline = t0 + 30
            attempt = 0
            while True:
                c = clients[(node + attempt) % len(clients)]
                try:
                    if op == "CreateKey":
                        out = c.create_key(Description=f"rolling restart {region} {w}")
                        key = key or out["KeyMetadata"]["KeyId"]
                    elif op == "Encrypt":
                        blob = c.encrypt(KeyId=key, Plaintext=plain)["CiphertextBlob"]
                    elif op == "Decrypt":
                        got = c.decrypt(CiphertextBlob=blob)["Plaintext"]
                        if got != plain:
                            raise ValueError(f"Decrypt returned {got!r}")
                    else:
                        c.generate_data_key(KeyId=key, KeySpec="AES_256")
                    ok[op] = ok.get(op, 0) + 1
                    break
                except Exception as e:  # noqa: BLE001 - every other outcome is a failure
                    if not not_received(e):
                        failed.append(f"{region} {op} on {endpoints[(node + attempt) % len(clients)]}: {e!r}")
                        break
                    if time.monotonic() > deadline:
                        failed.append(f"{region} {op}: no node answered within 30 s: {e}")
                        break
                    failovers += 1
                    attempt += 1
                    if attempt % len(clients) == 0:
                        time.sleep(0.2)
            lat.append((time.monotonic() - t0) * 1000)
            i += 1
        with lock:
            for k, v in ok.items():
                report["ok"][k] = report["ok"].get(k, 0) + v
            report["failed"].extend(failed)
            report["failovers"] += failovers
            report["latencies_ms"].extend(lat)

    threads = [
        threading.Thread(target=worker, args=(r, w), daemon=True)
        for r in sorted(dev["regions"])
        for w in range(args.workers_per_region)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lat = sorted(report.pop("latencies_ms"))

    def pct(p):
        return round(lat[min(len(lat) - 1, int(p * len(lat)))], 1) if lat else None

    report["requests"] = sum(report["ok"].values()) + len(report["failed"])
    report["latency_ms"] = {"p50": pct(0.50), "p99": pct(0.99), "max": round(lat[-1], 1) if lat else None}
    with open(args.report, "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
