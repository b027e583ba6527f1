#!/usr/bin/env bash
# The pre-run command of every Pulumi Deployments run of hermes-eks (deployments/delivery_plan.py).
#
# - preview, update: run the policy pack first, with the stack's policy config (its allowed exceptions)
#   when the pack has one. `pulumi preview --policy-pack` fails on a mandatory
#   violation, and a failing pre-run command fails the deployment before its own operation starts.
#   Deployment settings cannot add --policy-pack to the operation itself, and this preview reports a
#   rule that reads an unknown value as advisory: the update itself is checked by the stack's policy
#   group (deployments/policy_enforcement.py, `enforcePolicyPack`), where values are known.
# - destroy of a review stack: unprotect its resources first. The main program protects the Hermes
#   volume and namespace in every stack; a review stack's data is disposable by definition, and a
#   protected resource would make its destroy fail and leave the stack (an EKS cluster) running.
#
# Deployments sets PULUMI_CI_ORGANIZATION, PULUMI_CI_PROJECT, PULUMI_CI_STACK, PULUMI_CI_OPERATION
# and a PULUMI_ACCESS_TOKEN scoped to the stack (pulumi/docs deployments/concepts/settings/
# environment-variables); the deployment settings set the HERMES_EKS_* variables.
set -euo pipefail

root="$(git rev-parse --show-toplevel)"
program="$root/${HERMES_EKS_PROGRAM_DIR:?set by the deployment settings}"
policy_pack="$root/${HERMES_EKS_POLICY_PACK_DIR:?set by the deployment settings}"
stack="$PULUMI_CI_ORGANIZATION/$PULUMI_CI_PROJECT/$PULUMI_CI_STACK"

case "$PULUMI_CI_OPERATION" in
  preview | update)
    if [ ! -f "$policy_pack/PulumiPolicy.yaml" ]; then
      echo "pre_run.sh: no policy pack at $policy_pack (PulumiPolicy.yaml missing); refusing to deploy without it" >&2
      exit 1
    fi
    policy=(--policy-pack "$policy_pack")
    if [ -f "$root/${HERMES_EKS_POLICY_CONFIG:-}" ]; then
      policy+=(--policy-pack-config "$root/$HERMES_EKS_POLICY_CONFIG")
    fi
    pulumi install --cwd "$program"
    pulumi install --cwd "$policy_pack"
    pulumi preview --cwd "$program" --stack "$stack" "${policy[@]}" --non-interactive
    ;;
  destroy)
    if [ "${HERMES_EKS_EPHEMERAL:-false}" = "true" ]; then
      # A stack never deployed has no state, and `unprotect --all` then fails ("no resources found to
      # unprotect", pulumi/pulumi pkg/cmd/pulumi/state/state_unprotect.go). Carry on: if anything is
      # still protected, the destroy itself fails and says so.
      if ! pulumi state unprotect --all --yes --cwd "$program" --stack "$stack"; then
        echo "pre_run.sh: nothing unprotected; the destroy reports any resource still protected" >&2
      fi
    fi
    ;;
esac
