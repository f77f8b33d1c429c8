#!/usr/bin/env python3
"""Static checks of the deployment files, called by tests/packaging/check.

  lint.py manifests OUTDIR   YAML under packaging/, Kubernetes structure, probes,
                             grace periods, config <-> volume consistency; writes
                             every mtlsd configuration it finds (the Docker one and
                             those embedded in ConfigMaps) to OUTDIR/<name>/mtlsd.toml
  lint.py dockerfile         Dockerfile and .dockerignore rules
  lint.py runtime-deps PKG.. the Dockerfile's final-stage packages equal PKG..

Prints one "ok"/"FAIL" line per check; exits 1 if any failed. Standard
library plus PyYAML (Debian: python3-yaml); TOML via tomllib (Python 3.11).
"""

import fnmatch
import pathlib
import re
import sys
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
failures = 0


def ok(msg):
    print(f"ok    {msg}")


def fail(msg):
    global failures
    failures += 1
    print(f"FAIL  {msg}")


def check(cond, msg, why=""):
    if cond:
        ok(msg)
    else:
        fail(f"{msg}{': ' + why if why else ''}")
    return cond


def rel(path):
    return path.relative_to(ROOT).as_posix()


def seconds(text):
    """A duration as mtlsd (and compose) writes it: "250ms" "30s" "5m" "1h"."""
    m = re.fullmatch(r"(\d+)(ms|s|m|h)", str(text))
    if not m:
        raise ValueError(f"not a duration: {text!r}")
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


DEFAULT_DRAIN = 30.0  # [server] drain_timeout default (docs/configuration.md)
FILE_KEYS = ("cert", "key", "key_password_file", "truststore", "session_ticket_key_file")


def parse_config(text, where):
    """tomllib-parses an mtlsd configuration and checks its shape; returns it or None."""
    try:
        cfg = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        fail(f"{where}: TOML: {e}")
        return None
    ok(f"{where}: parses as TOML")
    unknown = set(cfg) - {"server", "admin", "defaults", "service"}
    check(not unknown, f"{where}: only [server] [admin] [defaults] [[service]] tables",
          f"unexpected {sorted(unknown)}")
    services = cfg.get("service", [])
    check(isinstance(services, list) and services, f"{where}: at least one [[service]]")
    for svc in services:
        missing = [k for k in ("name", "accept", "connect") if k not in svc]
        check(not missing, f"{where}: service {svc.get('name', '?')} has name, accept, connect",
              f"missing {missing}")
    return cfg


def config_files(cfg):
    """Every file a configuration names (relative as written), from [defaults] and services."""
    files = set()
    for table in [cfg.get("defaults", {})] + list(cfg.get("service", [])) + [cfg.get("admin", {})]:
        for k in FILE_KEYS:
            if k in table:
                files.add(table[k])
    return files


def admin_port(cfg):
    listen = cfg.get("admin", {}).get("listen")
    return int(listen.rsplit(":", 1)[1]) if listen else None


def accept_ports(cfg):
    return {int(s["accept"].rsplit(":", 1)[1]) for s in cfg.get("service", [])}


def write_config(outdir, name, text):
    d = pathlib.Path(outdir) / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "mtlsd.toml").write_text(text)


# --- manifests -----------------------------------------------------------------

def load_yaml_files():
    docs_by_file = {}
    for path in sorted((ROOT / "packaging").rglob("*")):
        if path.suffix not in (".yaml", ".yml"):
            continue
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        except yaml.YAMLError as e:
            fail(f"{rel(path)}: YAML: {e}")
            continue
        check(docs, f"{rel(path)}: parses as YAML ({len(docs)} documents)")
        docs_by_file[path] = docs
    return docs_by_file


def probe_of(container, kind):
    return (container.get(kind) or {}).get("httpGet") or {}


def port_number(container, port):
    if isinstance(port, int):
        return port
    for p in container.get("ports", []):
        if p.get("name") == port:
            return p.get("containerPort")
    return None


def prestop_sleep(container):
    cmd = (((container.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command")
    if cmd and cmd[0] == "sleep" and len(cmd) == 2:
        return float(cmd[1])
    return 0.0


def is_mtlsd(container):
    args = container.get("args") or container.get("command") or []
    return "run" in args and any("mtlsd.toml" in a for a in args)


def check_deployment(path, dep, configmaps, outdir):
    where = f"{rel(path)}: Deployment {dep['metadata']['name']}"
    pod = dep["spec"]["template"]["spec"]
    labels = dep["spec"]["template"]["metadata"].get("labels", {})
    selector = dep["spec"]["selector"].get("matchLabels", {})
    check(selector and all(labels.get(k) == v for k, v in selector.items()),
          f"{where}: selector matches the pod labels")

    sec = pod.get("securityContext", {})
    check(sec.get("runAsNonRoot") is True and sec.get("runAsUser", 0) != 0,
          f"{where}: runs as a non-root user")

    mtlsd = [c for c in pod["containers"] if is_mtlsd(c)]
    if not check(len(mtlsd) == 1, f"{where}: one mtlsd container (args run --config .../mtlsd.toml)"):
        return
    c = mtlsd[0]
    csec = c.get("securityContext", {})
    check(csec.get("readOnlyRootFilesystem") is True and csec.get("allowPrivilegeEscalation") is False
          and "ALL" in ((csec.get("capabilities") or {}).get("drop") or []),
          f"{where}: mtlsd container has a read-only root, no privilege escalation, no capabilities")

    ready, live = probe_of(c, "readinessProbe"), probe_of(c, "livenessProbe")
    check(ready.get("path") == "/readyz", f"{where}: readinessProbe GET /readyz")
    check(live.get("path") == "/healthz", f"{where}: livenessProbe GET /healthz")

    # The configuration this container runs: the ConfigMap projected as mtlsd.toml.
    mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
    config_volume, items = None, {}
    for vol in pod.get("volumes", []):
        if vol["name"] not in mounts:
            continue
        mount = mounts[vol["name"]]
        check(mount.get("readOnly") is True and "subPath" not in mount,
              f"{where}: volume {vol['name']} mounted read-only, without subPath (subPath is never updated)")
        sources = (vol.get("projected") or {}).get("sources") or []
        for src in sources:
            for kind in ("configMap", "secret"):
                if kind in src:
                    for it in src[kind].get("items", []):
                        items[mount["mountPath"].rstrip("/") + "/" + it["path"]] = (kind, src[kind]["name"], it["key"])
    for target, (kind, name, key) in items.items():
        if kind == "configMap" and target.endswith("/mtlsd.toml"):
            config_volume = (name, key, target)
    if not check(config_volume is not None, f"{where}: mtlsd.toml comes from a ConfigMap volume"):
        return
    cm_name, cm_key, cm_target = config_volume
    check(any(a == cm_target for a in c.get("args", [])), f"{where}: --config points at the mounted {cm_target}")
    if not check(cm_name in configmaps and cm_key in configmaps[cm_name].get("data", {}),
                 f"{where}: ConfigMap {cm_name} with key {cm_key} is in the same file"):
        return
    text = configmaps[cm_name]["data"][cm_key]
    cfg = parse_config(text, f"{rel(path)}: ConfigMap {cm_name}/{cm_key}")
    if cfg is None:
        return
    write_config(outdir, f"k8s-{path.stem}-{cm_name}", text)

    config_dir = cm_target.rsplit("/", 1)[0]
    for f in sorted(config_files(cfg)):
        target = f if f.startswith("/") else f"{config_dir}/{f}"
        check(target in items, f"{where}: {f} (named in the config) is projected into the volume",
              f"nothing mounted at {target}")

    check(admin_port(cfg) is not None and cfg["admin"]["listen"].startswith("0.0.0.0:"),
          f"{where}: [admin] listens on all addresses (the kubelet probes the pod IP)")
    check(port_number(c, ready.get("port")) == admin_port(cfg) == port_number(c, live.get("port")),
          f"{where}: probes use the [admin] port {admin_port(cfg)}")
    declared = {p.get("containerPort") for p in c.get("ports", [])}
    check(accept_ports(cfg) <= declared, f"{where}: every accept port is a containerPort",
          f"{sorted(accept_ports(cfg) - declared)} missing")
    check(cfg.get("server", {}).get("watch") is True,
          f"{where}: [server] watch = true (Secret/ConfigMap updates reload mtlsd)")

    drain = seconds(cfg.get("server", {}).get("drain_timeout", "30s"))
    grace = pod.get("terminationGracePeriodSeconds", 30)
    pause = prestop_sleep(c)
    check(grace > pause + drain,
          f"{where}: terminationGracePeriodSeconds {grace} > preStop {pause:g}s + drain_timeout {drain:g}s")


def check_manifests(outdir):
    docs_by_file = load_yaml_files()
    for path, docs in docs_by_file.items():
        if path.parent.name != "kubernetes":
            continue
        for i, d in enumerate(docs):
            good = isinstance(d, dict) and all(k in d for k in ("apiVersion", "kind", "metadata")) \
                and isinstance(d["metadata"], dict) and d["metadata"].get("name")
            check(good, f"{rel(path)} document {i + 1}: apiVersion, kind, metadata.name"
                  + (f" ({d.get('kind')} {d['metadata']['name']})" if good else ""))
        docs = [d for d in docs if isinstance(d, dict) and "kind" in d]
        configmaps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
        deployments = [d for d in docs if d["kind"] == "Deployment"]
        check(deployments, f"{rel(path)}: has a Deployment")
        for dep in deployments:
            check_deployment(path, dep, configmaps, outdir)
            pod_labels = dep["spec"]["template"]["metadata"].get("labels", {})
            for d in docs:
                if d["kind"] in ("Service", "PodDisruptionBudget"):
                    sel = d["spec"].get("selector", {})
                    sel = sel.get("matchLabels", sel) if d["kind"] == "PodDisruptionBudget" else sel
                    check(sel and all(pod_labels.get(k) == v for k, v in sel.items()),
                          f"{rel(path)}: {d['kind']} {d['metadata']['name']} selects the pods")
            if dep["spec"].get("replicas", 1) > 1 and any(
                    "session_ticket_key_file" in (c or "") for c in
                    (cm.get("data", {}).get("mtlsd.toml") for cm in configmaps.values())):
                check(any(d["kind"] == "PodDisruptionBudget" for d in docs),
                      f"{rel(path)}: replicated gateway has a PodDisruptionBudget")

    compose = ROOT / "packaging/docker/compose.yaml"
    if compose in docs_by_file:
        check_compose(compose, docs_by_file[compose][0], outdir)


def check_compose(path, doc, outdir):
    where = rel(path)
    services = doc.get("services", {})
    mtlsd = services.get("mtlsd")
    if not check(mtlsd is not None, f"{where}: has an mtlsd service"):
        return
    vols = mtlsd.get("volumes", [])
    check(vols and all(str(v).endswith(":ro") for v in vols), f"{where}: mtlsd mounts everything read-only")
    check(mtlsd.get("read_only") is True and "ALL" in mtlsd.get("cap_drop", []),
          f"{where}: mtlsd has a read-only root and no capabilities")
    targets = {str(v).split(":")[1]: str(v).split(":")[0] for v in vols}
    conf_src = targets.get("/etc/mtlsd/mtlsd.toml")
    if not check(conf_src is not None, f"{where}: mounts a config at /etc/mtlsd/mtlsd.toml"):
        return
    conf_path = (path.parent / conf_src).resolve()
    if not check(conf_path.is_file(), f"{where}: {conf_src} exists"):
        return
    text = conf_path.read_text()
    cfg = parse_config(text, rel(conf_path))
    if cfg is None:
        return
    write_config(outdir, "docker", text)
    for f in sorted(config_files(cfg)):
        check(not f.startswith("/") and any(f"/etc/mtlsd/{f}".startswith(t + "/") for t in targets),
              f"{where}: {f} (named in {rel(conf_path)}) lies in a mounted directory")
    check(cfg.get("server", {}).get("watch") is True, f"{rel(conf_path)}: [server] watch = true")
    drain = seconds(cfg.get("server", {}).get("drain_timeout", "30s"))
    grace = seconds(mtlsd.get("stop_grace_period", "10s"))
    check(grace > drain, f"{where}: stop_grace_period {grace:g}s > drain_timeout {drain:g}s")
    netns = mtlsd.get("network_mode", "")
    if netns.startswith("service:"):
        owner = services.get(netns.split(":", 1)[1], {})
        published = {int(str(p).rsplit(":", 2)[-1]) for p in owner.get("ports", [])}
        check(accept_ports(cfg) | {admin_port(cfg)} <= published,
              f"{where}: the namespace owner publishes mtlsd's ports")
        check(all(str(p).startswith("127.0.0.1:") for p in owner.get("ports", [])),
              f"{where}: demo ports are published on loopback only")


# --- Dockerfile -------------------------------------------------------------------

def dockerfile_instructions():
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def final_stage(instrs):
    starts = [i for i, (w, _) in enumerate(instrs) if w == "FROM"]
    return instrs[starts[-1]:]


def final_stage_packages(instrs):
    pkgs = set()
    for w, rest in final_stage(instrs):
        if w == "RUN" and "apt-get install" in rest:
            seg = rest.split("apt-get install", 1)[1].split("&&", 1)[0]
            pkgs |= {t for t in seg.split() if not t.startswith("-")}
    return pkgs


def dockerignore_allows(path):
    """.dockerignore semantics for the patterns used here: last match wins."""
    allowed = True
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        neg = line.startswith("!")
        pat = line[1:] if neg else line
        pat = pat.rstrip("/")
        if fnmatch.fnmatch(path, pat) or path.startswith(pat + "/"):
            allowed = neg
    return allowed


def check_dockerfile():
    instrs = dockerfile_instructions()
    froms = [rest.split()[0] for w, rest in instrs if w == "FROM"]
    check(froms and all(re.fullmatch(r"debian:(12|bookworm)(-slim)?", f) for f in froms),
          "Dockerfile: every stage FROM debian:12", f"got {froms}")
    check(froms and froms[-1] in ("debian:12-slim", "debian:bookworm-slim"),
          "Dockerfile: final stage FROM debian:12-slim")
    final = final_stage(instrs)
    users = [rest for w, rest in final if w == "USER"]
    check(users and users[-1].split(":")[0] not in ("root", "0"),
          "Dockerfile: final stage runs as a non-root USER", f"got {users}")
    for word in ("HEALTHCHECK", "ENTRYPOINT", "EXPOSE"):
        check(any(w == word for w, _ in final), f"Dockerfile: {word} in the final stage")
    check(any(w == "STOPSIGNAL" and rest == "SIGTERM" for w, rest in final),
          "Dockerfile: STOPSIGNAL SIGTERM (mtlsd drains on SIGTERM)")
    entry = [rest for w, rest in final if w == "ENTRYPOINT"]
    check(entry and "mtlsd" in entry[-1], "Dockerfile: ENTRYPOINT is mtlsd")
    check(any(w == "RUN" and "--strip" in r and "MTLSD_BUILD_TESTS=OFF" in r for w, r in instrs),
          "Dockerfile: builds without tests, installs stripped binaries")

    for w, rest in instrs:
        if w != "COPY" or "--from" in rest:
            continue
        srcs = rest.split()[:-1]
        for s in srcs:
            s = s.rstrip("/")
            check((ROOT / s).exists() and dockerignore_allows(s),
                  f"Dockerfile: COPY source {s} exists and .dockerignore lets it into the context")
    for secret in ("certs/demo/server.key", "build/mtlsd", ".git/config", "conf/mtlsd.toml"):
        check(not dockerignore_allows(secret), f".dockerignore keeps {secret} out of the build context")


def check_runtime_deps(needed):
    declared = final_stage_packages(dockerfile_instructions())
    needed = set(needed)
    check(declared == needed,
          f"Dockerfile: final stage installs exactly the libraries mtlsd links against ({' '.join(sorted(needed))})",
          f"Dockerfile has {sorted(declared)}; missing {sorted(needed - declared)}, "
          f"unneeded {sorted(declared - needed)}")


def main(argv):
    if len(argv) >= 3 and argv[1] == "manifests":
        check_manifests(argv[2])
    elif len(argv) == 2 and argv[1] == "dockerfile":
        check_dockerfile()
    elif len(argv) >= 2 and argv[1] == "runtime-deps":
        check_runtime_deps(argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
