# Run by `pulumi destroy` (pulumi-command local.Command `delete`) after the Hermes claim is deleted
# and before the EBS CSI driver, its permissions and the nodes go: waits until every PersistentVolume
# of $STORAGE_CLASS (reclaim policy Delete) whose claim in $NAMESPACE no longer exists is gone. The
# external-provisioner removes such a PV only after the driver has deleted its EBS volume, which
# Kubernetes does asynchronously once the claim is gone; nothing else in Pulumi waits for it.
# A PV whose claim still exists (a change that merely replaces this resource) is not waited for.
# Needs kubectl (and the AWS CLI the kubeconfig calls) where Pulumi runs.
set -eu
config=$(mktemp)
trap 'rm -f "$config"' EXIT
printf '%s' "$KUBECONFIG_JSON" > "$config"

pending() {
  # An unreachable cluster fails here (and the destroy with it) rather than passing as "nothing left".
  volumes=$(kubectl --kubeconfig "$config" get pv -o jsonpath='{range .items[*]}{.metadata.name} {.spec.persistentVolumeReclaimPolicy} {.spec.storageClassName} {.spec.claimRef.namespace} {.spec.claimRef.name}{"\n"}{end}') || return 1
  printf '%s\n' "$volumes" | while read -r pv policy class namespace claim; do
    [ "$policy" = Delete ] && [ "$class" = "$STORAGE_CLASS" ] && [ "$namespace" = "$NAMESPACE" ] || continue
    kubectl --kubeconfig "$config" -n "$namespace" get pvc "$claim" >/dev/null 2>&1 || echo "$pv"
  done
}

deadline=$(( $(date +%s) + ${TIMEOUT_SECONDS:-900} ))
while :; do
  left=$(pending) || { echo "cannot list PersistentVolumes with kubectl" >&2; exit 1; }
  [ -z "$left" ] && exit 0
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "PersistentVolumes still being deleted by the EBS CSI driver: $left" >&2
    echo "Their EBS volumes may be left behind: check with kubectl get pv, then in EC2." >&2
    exit 1
  fi
  sleep "${POLL_SECONDS:-5}"
done
