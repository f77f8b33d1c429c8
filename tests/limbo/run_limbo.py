#!/usr/bin/env python3
"""Runs the client-relevant x509-limbo test cases through `mtlsd verify` and,
for reference, `openssl verify`, and reports how often each agrees with the
corpus's expected result, listing every disagreement.

Usage: run_limbo.py --mtlsd PATH/TO/mtlsd LIMBO.json [--openssl openssl] [--strict]

Client-relevant rule (documented in docs/identity.md, "x509-limbo results"):
a case is skipped when its verdict depends on something a server checking a
*client* certificate never does:
  * matching the peer's NAME: expected_peer_name/expected_peer_names is set
    and the id is in the name-matching groups webpki::san, webpki::cn or
    rfc5280::san;
  * the serverAuth extended key usage: the case requires serverAuth
    (extended_key_usage lists it), or the peer certificate carries an
    extendedKeyUsage without clientAuth (a server certificate, which mtlsd
    refuses as bad_eku by design whatever the rest of the chain says).
mtlsd is run with --require-client-auth-eku false, so a leaf without the
extension is judged like any other.

Exit status: 0, or with --strict 1 when mtlsd disagrees with the corpus
other than in KNOWN_DISAGREEMENTS, or fails to give a verdict at all.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

NAME_GROUPS = ("webpki::san::", "webpki::cn::", "rfc5280::san::")

# Where mtlsd and the corpus differ on purpose or with OpenSSL (each explained
# in docs/identity.md). --strict fails on any other disagreement.
KNOWN_DISAGREEMENTS = {
    "pathlen::validation-ignores-pathlen-in-leaf": "leaf keyUsage forbids signing: no client can use it",
    "rfc5280::ca-as-leaf": "leaf keyUsage forbids signing: no client can use it",
    "rfc5280::nc::nc-permits-invalid-email-san": "OpenSSL does not refuse a malformed rfc822Name under an email constraint",
    "webpki::eku::ee-without-eku": "the runner sets --require-client-auth-eku false; the default refuses",
    "webpki::v1-cert": "OpenSSL accepts an X.509 v1 leaf",
}


def peer_eku(openssl, pem_path):
    """The peer certificate's extendedKeyUsage as a set of names; None when absent."""
    out = subprocess.run([openssl, "x509", "-in", pem_path, "-noout", "-ext", "extendedKeyUsage"],
                         capture_output=True, text=True).stdout
    lines = [l.strip() for l in out.splitlines()[1:] if l.strip()]
    if not lines:
        return None
    return {v.strip() for v in ",".join(lines).split(",")}


def exclusion(case, eku):
    if (case.get("expected_peer_name") or case.get("expected_peer_names")) and case["id"].startswith(NAME_GROUPS):
        return "peer name matching"
    if "serverAuth" in (case.get("extended_key_usage") or []):
        return "requires serverAuth"
    if eku is not None and not ({"TLS Web Client Authentication", "Any Extended Key Usage"} & eku):
        return "server certificate (extendedKeyUsage without clientAuth)"
    return None


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def run_case(case, args, work):
    trusted = write(os.path.join(work, "trusted.pem"), "".join(case["trusted_certs"]))
    intermediates = "".join(case["untrusted_intermediates"])
    inter_path = write(os.path.join(work, "intermediates.pem"), intermediates)
    peer = write(os.path.join(work, "peer.pem"), case["peer_certificate"])
    chain = write(os.path.join(work, "chain.pem"), case["peer_certificate"] + intermediates)
    crl_paths = [write(os.path.join(work, "crl%d.pem" % i), c) for i, c in enumerate(case.get("crls") or [])]
    at = case.get("validation_time")
    depth = case.get("max_chain_depth")

    cmd = [args.mtlsd, "verify", "--truststore", trusted, "--require-client-auth-eku", "false"]
    for c in crl_paths:
        cmd += ["--crl", c]
    if at:
        cmd += ["--at", at]
    if depth is not None:
        cmd += ["--verify-depth", str(min(depth, 32))]
    cmd += ["--json", chain]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode in (0, 1):
        verdict = json.loads(r.stdout)
        mtlsd = ("ACCEPT" if r.returncode == 0 else "REJECT", verdict.get("reason") or "", verdict.get("detail", ""))
    else:
        mtlsd = ("ERROR", "exit %d" % r.returncode, r.stderr.strip().replace("\n", " | "))

    ocmd = [args.openssl, "verify", "-CAfile", trusted]
    if intermediates:
        ocmd += ["-untrusted", inter_path]
    if at:
        from datetime import datetime
        ocmd += ["-attime", str(int(datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()))]
    if depth is not None:
        ocmd += ["-verify_depth", str(depth)]
    for c in crl_paths:
        ocmd += ["-CRLfile", c]
    if crl_paths:
        ocmd += ["-crl_check_all"]
    ocmd.append(peer)
    o = subprocess.run(ocmd, capture_output=True, text=True)
    openssl = ("ACCEPT" if o.returncode == 0 else "REJECT", (o.stdout + o.stderr).strip().splitlines()[-1:] or [""])
    return mtlsd, openssl


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("limbo", help="limbo.json")
    p.add_argument("--mtlsd", required=True)
    p.add_argument("--openssl", default="openssl")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 on a disagreement not in KNOWN_DISAGREEMENTS, or on no verdict")
    args = p.parse_args()
    with open(args.limbo) as f:
        cases = json.load(f)["testcases"]

    excluded = {}
    ran = agree_mtlsd = agree_openssl = 0
    disagreements = []
    with tempfile.TemporaryDirectory(prefix="mtlsd-limbo-") as work:
        for case in cases:
            peer = write(os.path.join(work, "peer.pem"), case["peer_certificate"])
            why = exclusion(case, peer_eku(args.openssl, peer))
            if why:
                excluded[why] = excluded.get(why, 0) + 1
                continue
            expected = "ACCEPT" if case["expected_result"] == "SUCCESS" else "REJECT"
            mtlsd, openssl = run_case(case, args, work)
            ran += 1
            agree_mtlsd += mtlsd[0] == expected
            agree_openssl += openssl[0] == expected
            if mtlsd[0] != expected or openssl[0] != expected:
                disagreements.append((case["id"], expected, mtlsd, openssl))

    total_excluded = sum(excluded.values())
    print("x509-limbo: %d cases, %d excluded as not client-relevant (%s), %d run"
          % (len(cases), total_excluded, ", ".join("%s: %d" % kv for kv in sorted(excluded.items())), ran))
    pct = lambda n: 100.0 * n / ran if ran else 0.0
    print("mtlsd agrees with expected:   %d/%d (%.1f%%)" % (agree_mtlsd, ran, pct(agree_mtlsd)))
    print("openssl agrees with expected: %d/%d (%.1f%%)" % (agree_openssl, ran, pct(agree_openssl)))
    for cid, expected, mtlsd, openssl in disagreements:
        print("DISAGREE %s expected=%s mtlsd=%s reason=%s openssl=%s" % (cid, expected, mtlsd[0], mtlsd[1], openssl[0]))
        if mtlsd[0] != expected:
            print("    mtlsd: %s" % mtlsd[2])
        if openssl[0] != expected:
            print("    openssl: %s" % openssl[1][0])
    unexpected = [d[0] for d in disagreements
                  if (d[2][0] != d[1] and d[0] not in KNOWN_DISAGREEMENTS) or d[2][0] == "ERROR"]
    for cid in unexpected:
        print("UNEXPECTED %s" % cid)
    return 1 if args.strict and unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
