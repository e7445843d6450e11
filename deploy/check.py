#!/usr/bin/env python3
"""Offline checks of the deployment files, run by CI.

The Kubernetes manifests are validated against the API schemas (kubernetes-validate, strict);
then the compose file and the manifests are read and checked against the portal itself: every
PORTAL_* variable they set must be one that `portal serve --help` knows, every component must
be there as its own `portal serve` container, and each Deployment must probe, expose and be
reached on the port its address gives; the network policies must let each service be reached
only by the components that call it; every alert must have a promtool test; and
docs/operations.md must describe every variable.

Usage: deploy/check.py PATH/TO/portal
"""

import json
import pathlib
import re
import subprocess
import sys

import yaml

HERE = pathlib.Path(__file__).resolve().parent
failures = []


def components(portal):
    """The portal's own list of its components (`portal components --json`): each one's name,
    default address, what it calls and whether it serves the public."""
    listing = subprocess.run([portal, "components", "--json"], check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in listing.splitlines() if line.strip()]


def ports_and_callers(listed):
    """Each component's port, and who may reach it: the components that call it, and anyone
    for a public one. The network policies must allow exactly these."""
    ports = {c["name"]: int(c["addr"].rsplit(":", 1)[1]) for c in listed}
    callers = {c["name"]: {"anywhere"} if c["public"] else set() for c in listed}
    for component in listed:
        for called in component["calls"]:
            callers[called].add(component["name"])
    return ports, callers



def fail(message):
    failures.append(message)


def known_variables(portal):
    help_text = subprocess.run([portal, "serve", "--help"], check=True, capture_output=True, text=True).stdout
    return set(re.findall(r"env: (PORTAL_[A-Z_]+)", help_text))


def check_compose(known, ports):
    compose = yaml.safe_load((HERE / "compose.yaml").read_text())
    services = compose["services"]
    for name, port in ports.items():
        service = services.get(name)
        if service is None:
            fail(f"compose: no {name} service")
            continue
        if service.get("command") != ["serve", name]:
            fail(f"compose: {name} does not run `portal serve {name}`")
        env = service.get("environment", {})
        if env.get(f"PORTAL_{name.upper()}_ADDR") != f"{name}:{port}":
            fail(f"compose: {name} is not reached at {name}:{port}")
        if env.get("PORTAL_LISTEN_ADDR") != f"0.0.0.0:{port}":
            fail(f"compose: {name} does not listen on port {port}")
        for variable in env:
            if variable.startswith("PORTAL_") and variable not in known:
                fail(f"compose: {name} sets {variable}, which portal does not read")
    if services.get("migrate", {}).get("command") != ["migrate"]:
        fail("compose: no migrate service running `portal migrate`")
    for needed in ("postgres", "redis", "otel-collector", "jaeger"):
        if needed not in services:
            fail(f"compose: no {needed} service")


def documents():
    for path in sorted((HERE / "k8s").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                yield path.name, document


def check_kubernetes(known, ports, callers):
    paths = [str(p) for p in sorted((HERE / "k8s").glob("*.yaml")) if p.name != "kustomization.yaml"]
    validated = subprocess.run(["kubernetes-validate", "--strict", "--quiet", *paths])
    if validated.returncode != 0:
        fail("k8s: kubernetes-validate failed")

    kustomization = yaml.safe_load((HERE / "k8s" / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    config = {}
    kinds = {}
    for file, document in documents():
        kind, name = document["kind"], document["metadata"]["name"]
        kinds.setdefault(kind, set()).add(name)
        if file not in listed and file != "secret.example.yaml":
            fail(f"k8s: {file} is not in kustomization.yaml")
        if kind == "ConfigMap":
            config = document["data"]
        if kind in ("Deployment", "Job"):
            spec = document["spec"]["template"]["spec"]
            for container in spec["containers"]:
                for variable in [e["name"] for e in container.get("env", [])]:
                    if variable.startswith("PORTAL_") and variable not in known:
                        fail(f"k8s: {name} sets {variable}, which portal does not read")
    for variable in config:
        if variable.startswith("PORTAL_") and variable not in known:
            fail(f"k8s: the ConfigMap sets {variable}, which portal does not read")

    for name, port in ports.items():
        if config.get(f"PORTAL_{name.upper()}_ADDR") != f"{name}:{port}":
            fail(f"k8s: the ConfigMap does not reach {name} at {name}:{port}")
        for kind in ("Deployment", "Service", "PodDisruptionBudget"):
            if name not in kinds.get(kind, set()):
                fail(f"k8s: no {kind} for {name}")
    for name in ("gateway", "record", "document"):
        if name not in kinds.get("HorizontalPodAutoscaler", set()):
            fail(f"k8s: no HorizontalPodAutoscaler for {name}")
    if "portal-migrate" not in kinds.get("Job", set()):
        fail("k8s: no migration Job")

    # Who may reach whom: a public component from anywhere; each other from its callers only.
    reached_by = {}
    for _, document in documents():
        if document["kind"] != "NetworkPolicy":
            continue
        target = document["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/component")
        for rule in document["spec"].get("ingress", []):
            allowed = {p["port"] for p in rule.get("ports", [])}
            sources = rule.get("from")
            if target in ports and ports[target] in allowed:
                if sources is None:
                    reached_by.setdefault(target, set()).add("anywhere")
                for source in sources or []:
                    labels = source.get("podSelector", {}).get("matchLabels", {})
                    reached_by.setdefault(target, set()).add(labels.get("app.kubernetes.io/component", "?"))
    if "default-deny-ingress" not in kinds.get("NetworkPolicy", set()):
        fail("k8s: ingress is not denied by default")
    for name, expected in callers.items():
        if reached_by.get(name, set()) != expected:
            fail(f"k8s: {name} is reached by {sorted(reached_by.get(name, set()))}, not {sorted(expected)}")

    for _, document in documents():
        if document["kind"] != "Deployment":
            continue
        name = document["metadata"]["name"]
        container = document["spec"]["template"]["spec"]["containers"][0]
        port = ports[name]
        if container["args"] != ["serve", name]:
            fail(f"k8s: {name} does not run `portal serve {name}`")
        if container["ports"][0]["containerPort"] != port:
            fail(f"k8s: {name} does not expose port {port}")
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            if container.get(probe, {}).get("grpc", {}).get("port") != port:
                fail(f"k8s: {name} has no gRPC {probe} on port {port}")
        env = {e["name"]: e for e in container.get("env", [])}
        if env.get("PORTAL_LISTEN_ADDR", {}).get("value") != f"0.0.0.0:{port}":
            fail(f"k8s: {name} does not listen on port {port}")
        if "PORTAL_INTERNAL_SIGNING_KEY" not in env or "secretKeyRef" not in env["PORTAL_INTERNAL_SIGNING_KEY"]["valueFrom"]:
            fail(f"k8s: {name} does not take the signing key from a Secret")
        limits = container.get("resources", {}).get("limits", {})
        if not {"cpu", "memory"} <= set(limits):
            fail(f"k8s: {name} has no CPU and memory limits")


def check_alerts_tested():
    rules = yaml.safe_load((HERE / "prometheus-alerts.yaml").read_text())
    tests = yaml.safe_load((HERE / "prometheus-alerts.test.yaml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule}
    tested = {case["alertname"] for test in tests["tests"] for case in test.get("alert_rule_test", [])}
    for alert in sorted(alerts - tested):
        fail(f"prometheus-alerts.test.yaml has no test of {alert}")


def check_documented(known):
    operations = (HERE.parent / "docs" / "operations.md").read_text()
    for variable in sorted(known):
        if f"`{variable}`" not in operations:
            fail(f"docs/operations.md does not describe {variable}")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    known = known_variables(sys.argv[1])
    ports, callers = ports_and_callers(components(sys.argv[1]))
    check_documented(known)
    check_alerts_tested()
    check_compose(known, ports)
    check_kubernetes(known, ports, callers)
    for message in failures:
        print(f"FAIL {message}")
    if failures:
        sys.exit(1)
    print("deploy: compose.yaml and k8s/ check out")


main()
