#!/usr/bin/env python3
"""Offline checks of deploy/ that the generic tools cannot make (check.sh runs them last).

    check.py RENDERED_DIR

RENDERED_DIR holds `kubectl kustomize` output, one file per kustomization (base.yaml,
dev.yaml, production.yaml). Checked here:

* every rendered object against the Kubernetes JSON schemas (kubernetes-validate, strict,
  each version in K8S_VERSIONS); an apiVersion/kind without a schema is an error, not a warning;
* the suite's own rules on those objects: probes, security, resources, references between
  objects, replicas against storage (no embedded SQLite behind more than one replica), the
  court's signing key (from a Secret, never a per-pod development key), what is exposed, who
  may reach whom (NetworkPolicies), how the services find each other, and every SIEVE__
  variable against services/kernel/src/defaults.toml;
* compose.yaml's meaning beyond the Compose schema (check.sh validates the schema itself);
* the Dockerfile's shape beyond hadolint, and .dockerignore.

Prints one line per check and exits 1 when any fails.
"""

from __future__ import annotations

import base64
import re
import sys
import tomllib
from pathlib import Path

import kubernetes_validate
import yaml

DEPLOY = Path(__file__).resolve().parent
ROOT = DEPLOY.parent
# The oldest Kubernetes the manifests support (native gRPC probes are GA since 1.27, the
# Pod Security labels since 1.25) and the newest the schemas know.
K8S_VERSIONS = ("1.30.0", "1.37.0")

DEFAULTS = tomllib.loads((ROOT / "services/kernel/src/defaults.toml").read_text())
# Each service's section [services.<key>] has its defaults in its own crate.
DEFAULTS["services"] = {
    "gateway": tomllib.loads((ROOT / "gateway/src/defaults.toml").read_text()),
    "intake": tomllib.loads((ROOT / "services/intake/src/defaults.toml").read_text()),
    "bad_debt_check": tomllib.loads((ROOT / "services/bad-debt-check/src/defaults.toml").read_text()),
}
PORTS = {
    "gateway": DEFAULTS["services"]["gateway"]["port"],
    "intake": DEFAULTS["services"]["intake"]["port"],
    "bad-debt-check": DEFAULTS["services"]["bad_debt_check"]["port"],
}
DRAIN_SECS = DEFAULTS["server"]["shutdown_grace_secs"]
SERVICES = tuple(PORTS)
# Never exposed: ClusterIP, no host ports, no Ingress.
INTERNAL = ("intake", "bad-debt-check")
# Services that keep tables: DATABASE_URL from a required Secret key, always PostgreSQL.
DATABASE_SERVICES = ("intake", "bad-debt-check")
# Who calls whom (each caller finds the callee at SIEVE__SERVICES__<CALLEE>__URL): the gateway
# forwards to both; intake's relay delivers cases to bad-debt-check; bad-debt-check reports
# outcomes to intake.
CALLS = {
    "gateway": ("intake", "bad-debt-check"),
    "intake": ("bad-debt-check",),
    "bad-debt-check": ("intake",),
}
# Who alone may reach each internal service (its NetworkPolicies admit these and no one else).
# intake only has to admit its callers; bad-debt-check must admit its callers and nobody else.
ONLY_FROM = {"bad-debt-check": {"gateway", "intake"}}
NAME_LABEL = "app.kubernetes.io/name"
# bad-debt-check's court signing key: both or neither, else a development key under data_dir.
COURT_KEY_VARS = ("SIEVE__SERVICES__BAD_DEBT_CHECK__SIGNING_KEY_ID", "SIEVE__SERVICES__BAD_DEBT_CHECK__SIGNING_KEY_SECRET")
NAMESPACE = "sieve"
# Expected replicas per kustomization (None: not fixed by the overlay).
REPLICAS = {"base": None, "dev": 1, "production": 3}
# Secrets production reads but never renders: created outside git.
EXTERNAL_SECRETS = {"production": {"sieve-database", "sieve-gateway-keys", "sieve-bad-debt-check-key",
                                   "sieve-internal", "sieve-gateway-tls"}}
# The internal credential every service carries and intake and bad-debt-check check.
INTERNAL_CREDENTIAL = "SIEVE__INTERNAL__CREDENTIAL"
INTERNAL_SECRET = "sieve-internal"
MIN_CREDENTIAL_CHARS = 32

failures: list[str] = []
passed = 0


def check(ok: bool, what: str) -> bool:
    global passed
    if ok:
        passed += 1
        print(f"  ok   {what}")
    else:
        failures.append(what)
        print(f"  FAIL {what}")
    return ok


def section(title: str) -> None:
    print(f"== {title}")


# ---- configuration keys ---------------------------------------------------------------------


def config_key_ok(name: str) -> bool:
    """`SIEVE__SECTION__KEY` names a key of defaults.toml (the config crate lower-cases)."""
    if name == "DATABASE_URL":
        return True
    parts = name.split("__")
    if parts[0] != "SIEVE" or len(parts) < 3:
        return False
    # A service's own section is one level deeper: SIEVE__SERVICES__<SERVICE>__<KEY>.
    table = DEFAULTS
    depth = 1
    while depth < len(parts):
        name = parts[depth].lower()
        if not isinstance(table, dict) or name not in table:
            return False
        table = table[name]
        depth += 1
        if not isinstance(table, dict):
            return depth == len(parts)
        if depth >= 3 and not table:  # a map such as services.gateway.signing_keys.<kid>
            return len(parts) == depth + 1 and re.fullmatch(r"[A-Za-z0-9_-]+", parts[depth]) is not None
    return False


def signing_key_ok(value: str) -> bool:
    try:
        return len(base64.b64decode(value, validate=True)) >= 32
    except ValueError:
        return False


def court_key_ok(value: str) -> bool:
    """bad_debt_check.signing_key_secret: base64 of exactly a 32-byte Ed25519 seed."""
    try:
        return len(base64.b64decode(value.strip(), validate=True)) == 32
    except ValueError:
        return False


def url_var(service: str) -> str:
    """The variable naming where `service` answers: SIEVE__SERVICES__BAD_DEBT_CHECK__URL."""
    return f"SIEVE__SERVICES__{service.replace('-', '_').upper()}__URL"


def database_url_kind(url: str) -> str:
    url = url.strip()
    if url.startswith(("postgres://", "postgresql://")):
        return "postgres"
    return "sqlite"  # empty (files under data_dir) or sqlite:...


# ---- Kubernetes -----------------------------------------------------------------------------


def load_rendered(path: Path) -> list[dict]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    return docs


def secret_values(secret: dict) -> dict[str, str]:
    values = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    values.update(secret.get("stringData") or {})
    return values


def selects(selector: dict | None, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels, matchExpressions) against a pod's labels."""
    selector = selector or {}
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for e in selector.get("matchExpressions", []):
        key, op, values = e["key"], e["operator"], e.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def names_selected(selector: dict | None) -> set[str] | None:
    """The app.kubernetes.io/name values a pod selector is confined to; None: not confined."""
    selector = selector or {}
    allowed: set[str] | None = None
    if NAME_LABEL in selector.get("matchLabels", {}):
        allowed = {selector["matchLabels"][NAME_LABEL]}
    for e in selector.get("matchExpressions", []):
        if e["key"] == NAME_LABEL and e["operator"] == "In":
            vals = set(e.get("values", []))
            allowed = vals if allowed is None else allowed & vals
    return allowed


def ingress_policies(policies: list[dict], labels: dict[str, str]) -> list[dict]:
    """The NetworkPolicies that govern ingress to pods with `labels` (all in one namespace)."""
    return [p for p in policies
            if selects(p["spec"].get("podSelector"), labels)
            and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])]


def port_admitted(rule: dict, port: int, port_names: dict[str, int]) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    for p in ports:
        if p.get("protocol", "TCP") != "TCP":
            continue
        want = p.get("port")
        if want is None:
            return True
        number = port_names.get(want) if isinstance(want, str) else want
        if number is not None and number <= port <= p.get("endPort", number):
            return True
    return False


def admits(policies: list[dict], target: dict[str, str], source: dict[str, str], port: int,
           port_names: dict[str, int]) -> bool:
    """Whether a pod labelled `source` (same namespace) may open `port` on a pod labelled
    `target`: no policy selecting the target means open, else some rule must allow it."""
    governing = ingress_policies(policies, target)
    if not governing:
        return True
    for p in governing:
        for rule in p["spec"].get("ingress") or []:
            if not port_admitted(rule, port, port_names):
                continue
            peers = rule.get("from")
            if not peers:
                return True
            for peer in peers:
                if "ipBlock" in peer:
                    continue
                ns = peer.get("namespaceSelector")
                if ns is not None and not selects(ns, {"kubernetes.io/metadata.name": NAMESPACE}):
                    continue
                if selects(peer.get("podSelector"), source):
                    return True
    return False


def only_from(policies: list[dict], target: dict[str, str], allowed: set[str]) -> list[str]:
    """Why pods other than those named `allowed` (this namespace) could reach `target`: every
    rule of every policy selecting it must name its peers, each a pod selector of this
    namespace confined to `allowed` by app.kubernetes.io/name. Empty: none."""
    governing = ingress_policies(policies, target)
    if not governing:
        return ["no NetworkPolicy selects it (open to every pod)"]
    problems = []
    for p in governing:
        pname = p["metadata"]["name"]
        for i, rule in enumerate(p["spec"].get("ingress") or []):
            peers = rule.get("from")
            if not peers:
                problems.append(f"{pname} rule {i}: no `from` (any source)")
                continue
            for peer in peers:
                if "ipBlock" in peer:
                    problems.append(f"{pname} rule {i}: an ipBlock")
                elif "namespaceSelector" in peer:
                    problems.append(f"{pname} rule {i}: a namespaceSelector")
                else:
                    names = names_selected(peer.get("podSelector"))
                    if names is None or not names <= allowed:
                        problems.append(f"{pname} rule {i}: pods {sorted(names) if names else 'of any name'}")
    return problems


def check_schemas(name: str, objects: list[dict]) -> None:
    for version in K8S_VERSIONS:
        bad = []
        for obj in objects:
            ident = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                bad.append(f"{ident}: {e.message} at {'.'.join(map(str, e.path))}")
            except kubernetes_validate.SchemaNotFoundError:
                bad.append(f"{ident}: no schema for {obj.get('apiVersion')} {obj.get('kind')}")
        check(not bad, f"{name}: {len(objects)} objects valid against Kubernetes {version} "
              f"schemas (strict)" + "".join(f"\n       {b}" for b in bad))


def check_kubernetes(name: str, objects: list[dict]) -> None:
    by_kind: dict[str, dict[str, dict]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    deployments = by_kind.get("Deployment", {})
    services = by_kind.get("Service", {})
    config_maps = by_kind.get("ConfigMap", {})
    secrets = by_kind.get("Secret", {})
    hpas = by_kind.get("HorizontalPodAutoscaler", {})
    pdbs = by_kind.get("PodDisruptionBudget", {})
    external = EXTERNAL_SECRETS.get(name, set())

    check(set(by_kind.get("Namespace", {})) == {NAMESPACE}, f"{name}: namespace {NAMESPACE}")
    stray = [f"{o['kind']}/{o['metadata']['name']}" for o in objects
             if o["kind"] != "Namespace" and o["metadata"].get("namespace") != NAMESPACE]
    check(not stray, f"{name}: every object in namespace {NAMESPACE} {stray or ''}")

    workloads = list(deployments.values()) + list(by_kind.get("StatefulSet", {}).values())
    for wl in workloads:
        wname = f"{name}: {wl['kind']}/{wl['metadata']['name']}"
        pod = wl["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        check(psc.get("runAsNonRoot") is True and psc.get("runAsUser", 0) > 0,
              f"{wname}: pod runs as a numeric non-root user")
        check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
              f"{wname}: seccomp RuntimeDefault")
        check(pod.get("automountServiceAccountToken") is False,
              f"{wname}: no service account token mounted")
        check(wl["spec"]["selector"]["matchLabels"].items()
              <= wl["spec"]["template"]["metadata"]["labels"].items(),
              f"{wname}: selector matches its pod labels")
        for c in pod["containers"]:
            res = c.get("resources", {})
            check(all(k in res.get(t, {}) for t in ("requests", "limits") for k in ("cpu", "memory")),
                  f"{wname}: container {c['name']} has cpu/memory requests and limits")
            sc = c.get("securityContext", {})
            check(sc.get("allowPrivilegeEscalation") is False
                  and sc.get("capabilities", {}).get("drop") == ["ALL"],
                  f"{wname}: container {c['name']} drops all capabilities, no escalation")
            # Every envFrom / secretKeyRef / configMapKeyRef resolves.
            refs = []
            for src in c.get("envFrom", []):
                if "configMapRef" in src:
                    refs.append(("ConfigMap", src["configMapRef"]["name"], None))
                if "secretRef" in src:
                    refs.append(("Secret", src["secretRef"]["name"], None))
            for env in c.get("env", []):
                vf = env.get("valueFrom", {})
                if "secretKeyRef" in vf:
                    refs.append(("Secret", vf["secretKeyRef"]["name"], vf["secretKeyRef"]["key"]))
                if "configMapKeyRef" in vf:
                    refs.append(("ConfigMap", vf["configMapKeyRef"]["name"],
                                 vf["configMapKeyRef"]["key"]))
            for kind, ref, key in refs:
                pool = config_maps if kind == "ConfigMap" else secrets
                if kind == "Secret" and ref in external and ref not in pool:
                    continue  # created outside git (see the overlay)
                obj = pool.get(ref)
                keys = secret_values(obj) if kind == "Secret" and obj else (obj or {}).get("data") or {}
                found = obj is not None and (key is None or key in keys)
                check(found, f"{wname}: {kind} {ref}{'/' + key if key else ''} exists")

        image = pod["containers"][0]["image"]
        if wl["kind"] != "Deployment" or wl["metadata"]["name"] not in SERVICES:
            continue
        # ---- a Sieve service ----
        svc = wl["metadata"]["name"]
        port = PORTS[svc]
        c = pod["containers"][0]
        check("sieve" in image.rsplit("/", 1)[-1], f"{wname}: runs the sieve image ({image})")
        check(c.get("args") == ["serve", svc] and "command" not in c,
              f"{wname}: runs `sieve serve {svc}`")
        check([p["containerPort"] for p in c.get("ports", [])] == [port],
              f"{wname}: listens on {port} only")
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            check(c.get(probe, {}).get("grpc", {}).get("port") == port,
                  f"{wname}: native gRPC {probe} on {port}")
        sc = c.get("securityContext", {})
        check(sc.get("readOnlyRootFilesystem") is True, f"{wname}: read-only root filesystem")
        vols = {v["name"]: v for v in pod.get("volumes", [])}
        tmp = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
        check(len(tmp) == 1 and "emptyDir" in vols.get(tmp[0]["name"], {}),
              f"{wname}: /tmp is an emptyDir")
        stop = pod.get("terminationGracePeriodSeconds", 30)
        pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
        pre_secs = int(pre[1]) if pre[:1] == ["sleep"] else 0
        check(stop > DRAIN_SECS + pre_secs,
              f"{wname}: terminationGracePeriodSeconds {stop} > drain {DRAIN_SECS} s "
              f"+ preStop {pre_secs} s")
        # Environment: every SIEVE__ name is a configuration key; the pod is set up for a
        # container (all interfaces, JSON logs).
        env: dict[str, str] = {}
        for src in c.get("envFrom", []):
            if "configMapRef" in src and src["configMapRef"]["name"] in config_maps:
                env.update(config_maps[src["configMapRef"]["name"]].get("data") or {})
            if "secretRef" in src and src["secretRef"]["name"] in secrets:
                env.update(secret_values(secrets[src["secretRef"]["name"]]))
        for e in c.get("env", []):
            if "value" in e:
                env[e["name"]] = e["value"]
            elif "secretKeyRef" in e.get("valueFrom", {}):
                ref = e["valueFrom"]["secretKeyRef"]
                if ref["name"] in secrets:
                    env[e["name"]] = secret_values(secrets[ref["name"]]).get(ref["key"], "")
                else:
                    env[e["name"]] = f"<external secret {ref['name']}>"
        unknown = [k for k in env if not config_key_ok(k)]
        check(not unknown, f"{wname}: every variable is a configuration key {unknown or ''}")
        check(env.get("SIEVE__SERVER__HOST") == "0.0.0.0", f"{wname}: listens on 0.0.0.0")
        check(env.get("SIEVE__TELEMETRY__FORMAT") == "json", f"{wname}: logs JSON")

        # Storage against replicas: embedded SQLite is one pod's file, never shared.
        replicas = wl["spec"].get("replicas", 1)
        hpa = next((h for h in hpas.values()
                    if h["spec"]["scaleTargetRef"]["name"] == svc), None)
        most = max(replicas, hpa["spec"]["maxReplicas"] if hpa else 0)
        if REPLICAS[name] is not None:
            check(replicas == REPLICAS[name], f"{wname}: {REPLICAS[name]} replicas")
        if hpa:
            check(hpa["spec"]["minReplicas"] >= (REPLICAS[name] or 1)
                  and hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"],
                  f"{name}: HPA {svc} keeps at least the overlay's replicas")
            check(hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment", f"{name}: HPA {svc} target")
        if svc in DATABASE_SERVICES:
            db_ref = next((e["valueFrom"]["secretKeyRef"] for e in c.get("env", [])
                           if e["name"] == "DATABASE_URL" and "secretKeyRef" in e.get("valueFrom", {})), None)
            check(db_ref is not None and not db_ref.get("optional", False),
                  f"{wname}: DATABASE_URL from a required Secret key")
            if db_ref and db_ref["name"] in secrets:
                # Never SQLite here: more than one replica would split the data, and even one
                # pod keeps its file on an emptyDir that a restart wipes.
                url = env.get("DATABASE_URL", "")
                check(database_url_kind(url) == "postgres",
                      f"{wname}: up to {most} replica(s) over PostgreSQL, not embedded SQLite")
            else:
                check(db_ref is not None and db_ref["name"] in external,
                      f"{wname}: DATABASE_URL Secret rendered or declared external")
        # It finds each service it calls by that service's cluster DNS name and Service port.
        for callee in CALLS.get(svc, ()):
            got = env.get(url_var(callee), "")
            want = f"http://{callee}:{services.get(callee, {}).get('spec', {}).get('ports', [{}])[0].get('port')}"
            check(got == want, f"{wname}: reaches {callee} at {want} ({url_var(callee)}, got {got!r})")
        if svc == "bad-debt-check":
            # The court's key from a Secret, each variable by name from a required key: with
            # either missing the service would sign with a development key of the pod's own
            # (on its emptyDir), which no other replica shares and a restart replaces.
            for var in COURT_KEY_VARS:
                ref = next((e["valueFrom"]["secretKeyRef"] for e in c.get("env", [])
                            if e["name"] == var and "secretKeyRef" in e.get("valueFrom", {})), None)
                check(ref is not None and not ref.get("optional", False),
                      f"{wname}: {var} from a required Secret key")
                plain = [e for e in c.get("env", []) if e["name"] == var and "valueFrom" not in e]
                check(not plain, f"{wname}: {var} not set as a plain value")
                if ref and ref["name"] not in secrets:
                    check(ref["name"] in external, f"{wname}: {var} Secret rendered or declared external")
            values = {v: env.get(v, "") for v in COURT_KEY_VARS}
            key_id, secret = values[COURT_KEY_VARS[0]], values[COURT_KEY_VARS[1]]
            if any(v.startswith("<external secret ") for v in values.values()):
                pass  # created outside git (see the overlay)
            elif name == "base":
                check(bool(key_id) and bool(secret), f"{wname}: court signing key template present")
            else:
                check(bool(key_id.strip()) and court_key_ok(secret),
                      f"{wname}: court signing key: an id and base64 of a 32-byte seed")
        # Every service: the internal credential from the one required Secret key (a pod
        # without it is refused by the others, or refuses them).
        ref = next((e["valueFrom"]["secretKeyRef"] for e in c.get("env", [])
                    if e["name"] == INTERNAL_CREDENTIAL and "secretKeyRef" in e.get("valueFrom", {})), None)
        check(ref is not None and not ref.get("optional", False)
              and ref.get("name") == INTERNAL_SECRET and ref.get("key") == INTERNAL_CREDENTIAL,
              f"{wname}: {INTERNAL_CREDENTIAL} from the required Secret {INTERNAL_SECRET}")
        credential = env.get(INTERNAL_CREDENTIAL, "")
        if credential.startswith("<external secret "):
            pass  # created outside git (see the overlay)
        elif name == "base":
            check(bool(credential), f"{wname}: internal credential template present")
        else:
            check(len(credential) >= MIN_CREDENTIAL_CHARS and credential.isascii()
                  and credential.isprintable() and " " not in credential,
                  f"{wname}: internal credential of at least {MIN_CREDENTIAL_CHARS} visible characters")
        if svc == "gateway":
            keys = {k: v for k, v in env.items() if k.startswith("SIEVE__SERVICES__GATEWAY__SIGNING_KEYS__")}
            if any(r.get("secretRef", {}).get("name") in external for r in c.get("envFrom", [])):
                pass  # created outside git (see the overlay)
            elif name == "base":
                check(len(keys) >= 1, f"{wname}: signing key template present")
            else:
                check(keys and all(signing_key_ok(v) for v in keys.values()),
                      f"{wname}: signing keys are base64 of at least 32 bytes")

        # Its Service, PDB.
        s = services.get(svc)
        if check(s is not None, f"{name}: Service {svc} exists"):
            sel = s["spec"].get("selector", {})
            check(sel.items() <= wl["spec"]["template"]["metadata"]["labels"].items(),
                  f"{name}: Service {svc} selects the {svc} pods")
            sp = s["spec"]["ports"]
            names = {p.get("name") for p in c.get("ports", [])} | {p["containerPort"] for p in c.get("ports", [])}
            check(len(sp) == 1 and sp[0]["port"] == port and sp[0].get("targetPort") in names,
                  f"{name}: Service {svc} port {port} reaches the container")
        pdb = pdbs.get(svc)
        if check(pdb is not None, f"{name}: PodDisruptionBudget {svc}"):
            check(pdb["spec"]["selector"]["matchLabels"].items()
                  <= wl["spec"]["template"]["metadata"]["labels"].items(),
                  f"{name}: PodDisruptionBudget {svc} selects the {svc} pods")
        if name != "dev":
            check(hpa is not None, f"{name}: HorizontalPodAutoscaler {svc}")

    check(set(SERVICES) <= set(deployments), f"{name}: a Deployment per service {SERVICES}")
    # Secrets stay in Secrets: no ConfigMap carries a signing key.
    for cname, cm in config_maps.items():
        leaked = sorted(k for k in (cm.get("data") or {})
                        if "SIGNING_KEY" in k or k in ("DATABASE_URL", INTERNAL_CREDENTIAL))
        check(not leaked, f"{name}: ConfigMap/{cname} holds no signing key or DATABASE_URL {leaked or ''}")
    # Only the gateway is ever exposed.
    exposed = [n for n, s in services.items() if s["spec"].get("type", "ClusterIP") != "ClusterIP"]
    check(set(exposed) <= {"gateway"}, f"{name}: only the gateway Service may leave ClusterIP {exposed or ''}")
    for svc in INTERNAL:
        spec = services.get(svc, {}).get("spec", {})
        check(spec.get("type", "ClusterIP") == "ClusterIP" and not spec.get("externalIPs")
              and not any("nodePort" in p for p in spec.get("ports", [])),
              f"{name}: {svc} Service is ClusterIP only (no externalIPs, no nodePort)")
        pod = deployments.get(svc, {}).get("spec", {}).get("template", {}).get("spec", {})
        host = pod.get("hostNetwork") or any("hostPort" in p for ct in pod.get("containers", [])
                                              for p in ct.get("ports", []))
        check(not host, f"{name}: {svc} pods use no host network or host port")
    for ing in by_kind.get("Ingress", {}).values():
        backends = [p["backend"]["service"]["name"] for r in ing["spec"].get("rules", [])
                    for p in r.get("http", {}).get("paths", [])]
        if "defaultBackend" in ing["spec"]:
            backends.append(ing["spec"]["defaultBackend"].get("service", {}).get("name"))
        check(set(backends) == {"gateway"}, f"{name}: Ingress/{ing['metadata']['name']} routes to the gateway only")
        ann = ing["metadata"].get("annotations", {})
        check(ann.get("nginx.ingress.kubernetes.io/backend-protocol") == "GRPC",
              f"{name}: Ingress/{ing['metadata']['name']} has a gRPC backend")
        check(bool(ing["spec"].get("tls")), f"{name}: Ingress/{ing['metadata']['name']} terminates TLS")
    if name == "production":
        check(bool(by_kind.get("Ingress")) or "gateway" in exposed,
              f"{name}: the gateway is exposed (Ingress or LoadBalancer)")
        placeholders = [n for n, s in secrets.items() if "REPLACE_ME" in str(secret_values(s))]
        check(not placeholders, f"{name}: no placeholder Secret is applied {placeholders or ''}")
    else:
        check(not exposed and not by_kind.get("Ingress"), f"{name}: nothing exposed outside the cluster")
    for hname, h in hpas.items():
        check(h["spec"]["scaleTargetRef"]["name"] in deployments, f"{name}: HPA {hname} targets a Deployment")
    check_network_policies(name, by_kind)


def pod_labels(workload: dict | None) -> dict[str, str]:
    return (workload or {}).get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})


def port_names(workload: dict | None) -> dict[str, int]:
    pod = (workload or {}).get("spec", {}).get("template", {}).get("spec", {})
    return {p["name"]: p["containerPort"] for c in pod.get("containers", []) for p in c.get("ports", [])
            if "name" in p}


def check_network_policies(name: str, by_kind: dict[str, dict[str, dict]]) -> None:
    """Who may reach whom, read from the rendered NetworkPolicies (one namespace)."""
    policies = list(by_kind.get("NetworkPolicy", {}).values())
    deployments = by_kind.get("Deployment", {})
    deny = [p for p in policies if not p["spec"].get("podSelector")
            and "Ingress" in p["spec"].get("policyTypes", []) and not p["spec"].get("ingress")]
    check(bool(deny), f"{name}: a default-deny ingress NetworkPolicy")
    # Each caller reaches what it calls.
    for caller, callees in CALLS.items():
        for callee in callees:
            target = deployments.get(callee)
            ok = admits(policies, pod_labels(target), pod_labels(deployments.get(caller)),
                        PORTS[callee], port_names(target))
            check(ok, f"{name}: NetworkPolicies let {caller} reach {callee} on {PORTS[callee]}")
    # And nobody else reaches those confined to their callers.
    for svc, allowed in ONLY_FROM.items():
        problems = only_from(policies, pod_labels(deployments.get(svc)), allowed)
        check(not problems, f"{name}: only {', '.join(sorted(allowed))} may reach {svc}"
              + "".join(f"\n       {p}" for p in problems))
        # Spot checks: the suite's other workloads, and any other pod of the namespace.
        others = {n: pod_labels(w) for kind in ("Deployment", "StatefulSet")
                  for n, w in by_kind.get(kind, {}).items() if n not in allowed | {svc}}
        others["any other pod"] = {NAME_LABEL: "some-other-pod", "app.kubernetes.io/part-of": NAMESPACE}
        for other, labels in sorted(others.items()):
            check(not admits(policies, pod_labels(deployments.get(svc)), labels,
                             PORTS[svc], port_names(deployments.get(svc))),
                  f"{name}: {other} cannot reach {svc}")
    # An in-cluster PostgreSQL (dev) admits every service that keeps tables.
    pg = by_kind.get("StatefulSet", {}).get("postgres")
    if pg:
        pg_port = port_names(pg).get("postgres", 5432)
        for svc in DATABASE_SERVICES:
            check(admits(policies, pod_labels(pg), pod_labels(deployments.get(svc)), pg_port, port_names(pg)),
                  f"{name}: NetworkPolicies let {svc} reach postgres on {pg_port}")


# ---- compose --------------------------------------------------------------------------------


def env_map(env) -> dict[str, str]:
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in (env or {}).items()}


def check_compose() -> None:
    section("compose.yaml: meaning")
    doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    svcs = doc.get("services", {})
    check(set(svcs) == {"postgres", *SERVICES},
          f"compose: services postgres, {', '.join(SERVICES)} ({sorted(svcs)})")
    pg = svcs.get("postgres", {})
    check(pg.get("image") == "postgres:15", "compose: postgres:15")
    hc = pg.get("healthcheck", {}).get("test", [])
    check("pg_isready" in " ".join(hc if isinstance(hc, list) else [hc]), "compose: postgres healthcheck runs pg_isready")
    vols = [v.split(":", 1) for v in pg.get("volumes", [])]
    check(any(dst == "/var/lib/postgresql/data" and src in (doc.get("volumes") or {}) for src, dst in vols),
          "compose: postgres data on a named volume")
    check(not pg.get("ports"), "compose: postgres not published")
    for svc in SERVICES:
        s = svcs.get(svc, {})
        check(bool(s.get("image")) and bool(s.get("build")), f"compose: {svc} has an image and its build")
        check(s.get("command") == ["serve", svc], f"compose: {svc} runs `serve {svc}`")
        env = env_map(s.get("environment"))
        unknown = [k for k in env if not config_key_ok(k)]
        check(not unknown, f"compose: {svc} variables are configuration keys {unknown or ''}")
        check(env.get("SIEVE__SERVER__HOST") == "0.0.0.0", f"compose: {svc} listens on 0.0.0.0")
        check(env.get("SIEVE__TELEMETRY__FORMAT") == "json", f"compose: {svc} logs JSON")
        grace = str(s.get("stop_grace_period", "10s"))
        m = re.fullmatch(r"(\d+)s", grace)
        check(m is not None and int(m.group(1)) > DRAIN_SECS,
              f"compose: {svc} stop_grace_period {grace} > drain {DRAIN_SECS} s")
        for dep, cond in (s.get("depends_on") or {}).items():
            check(dep in svcs, f"compose: {svc} depends on a defined service ({dep})")
    gateway = svcs.get("gateway", {})
    for svc in INTERNAL:
        s = svcs.get(svc, {})
        check(not s.get("ports"), f"compose: {svc} not published")
        check([str(p) for p in s.get("expose", [])] == [str(PORTS[svc])],
              f"compose: {svc} answers on {PORTS[svc]} on the internal network")
    check([str(p) for p in gateway.get("ports", [])] == [f"{PORTS['gateway']}:{PORTS['gateway']}"],
          f"compose: gateway published on {PORTS['gateway']} only")
    for svc in DATABASE_SERVICES:
        s = svcs.get(svc, {})
        check((s.get("depends_on") or {}).get("postgres", {}).get("condition") == "service_healthy",
              f"compose: {svc} waits for a healthy postgres")
        db = env_map(s.get("environment")).get("DATABASE_URL", "")
        check(database_url_kind(db) == "postgres" and "@postgres:5432/" in db,
              f"compose: {svc}'s DATABASE_URL names the postgres service")
    for caller, callees in CALLS.items():
        env = env_map(svcs.get(caller, {}).get("environment"))
        for callee in callees:
            check(env.get(url_var(callee)) == f"http://{callee}:{PORTS[callee]}",
                  f"compose: {caller} reaches {callee} by service name ({url_var(callee)})")
    # The court's key: both variables set, the seed from the caller's environment and required
    # (`${VAR:?...}`), never a literal here. Without it the service would make a development key
    # in its data dir, which is on the read-only root filesystem.
    bdc_env = env_map(svcs.get("bad-debt-check", {}).get("environment"))
    key_id, secret = (bdc_env.get(v, "") for v in COURT_KEY_VARS)
    check(bool(key_id.strip()), f"compose: bad-debt-check has a court signing key id ({COURT_KEY_VARS[0]})")
    check(re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]*\}", secret) is not None,
          f"compose: bad-debt-check's court signing key is a required variable ({COURT_KEY_VARS[1]}: ${{VAR:?...}})")
    gw_env = env_map(gateway.get("environment"))
    check(any(k.startswith("SIEVE__SERVICES__GATEWAY__SIGNING_KEYS__") for k in gw_env),
          "compose: gateway has a signing key")
    # The internal credential: the same required variable in every service, never a literal.
    credentials = {env_map(svcs.get(svc, {}).get("environment")).get(INTERNAL_CREDENTIAL, "")
                   for svc in SERVICES}
    check(len(credentials) == 1
          and re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]*\}", next(iter(credentials))) is not None,
          f"compose: every service has the same required {INTERNAL_CREDENTIAL} (${{VAR:?...}})")


# ---- Dockerfile -----------------------------------------------------------------------------


def check_dockerfile() -> None:
    section("Dockerfile and .dockerignore: shape")
    text = (DEPLOY / "Dockerfile").read_text()
    # Join continuation lines, drop comments.
    lines = [ln.strip() for ln in re.sub(r"\\\n", " ", text).splitlines()]
    instrs = [ln for ln in lines if ln and not ln.startswith("#")]
    froms = [ln for ln in instrs if ln.upper().startswith("FROM ")]
    check(len(froms) == 2, "Dockerfile: two stages")
    check(bool(froms) and re.match(r"FROM rust:1-bookworm AS builder$", froms[0], re.I) is not None,
          "Dockerfile: builds on rust:1-bookworm")
    check(len(froms) > 1 and froms[-1].split()[1] == "debian:bookworm-slim",
          "Dockerfile: runs on debian:bookworm-slim")
    for f in froms:
        image = f.split()[1]
        check(":" in image and not image.endswith(":latest"), f"Dockerfile: {image} pins a tag")
    check(any("cargo build --release -p sieve-cli --locked" in ln for ln in instrs),
          "Dockerfile: cargo build --release -p sieve-cli --locked")
    final = instrs[instrs.index(froms[-1]):] if froms else []
    users = [ln.split()[1] for ln in final if ln.upper().startswith("USER ")]
    uid = users[-1].split(":")[0] if users else "root"
    check(uid.isdigit() and int(uid) > 0, f"Dockerfile: final stage runs as a numeric non-root user ({uid})")
    check(any("ca-certificates" in ln for ln in final), "Dockerfile: ca-certificates installed")
    expose = {p for ln in final if ln.upper().startswith("EXPOSE ") for p in ln.split()[1:]}
    check(expose == {str(p) for p in PORTS.values()}, f"Dockerfile: EXPOSE {sorted(expose)}")
    check('ENTRYPOINT ["sieve"]' in final, 'Dockerfile: ENTRYPOINT ["sieve"] (exec form)')
    check('CMD ["up"]' in final, 'Dockerfile: CMD ["up"] (exec form)')
    check(any("SIEVE__SERVER__HOST=0.0.0.0" in ln for ln in final), "Dockerfile: listens on 0.0.0.0")
    ignore = {ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()}
    for entry in ("target/", "data/", ".git"):
        check(entry in ignore, f".dockerignore: {entry}")


def main() -> int:
    rendered = Path(sys.argv[1])
    for path in sorted(rendered.glob("*.yaml")):
        name = path.stem
        section(f"k8s {name}: rendered by kustomize")
        objects = load_rendered(path)
        check_schemas(name, objects)
        check_kubernetes(name, objects)
    check_compose()
    check_dockerfile()
    if failures:
        print(f"check.py: {len(failures)} failed, {passed} passed")
        return 1
    print(f"check.py: {passed} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
