# The "mirror" build (imageSource: mirror): the pinned upstream release, re-homed into this stack's
# ECR repository. Nothing is added but labels: no RUN step, so the result is upstream's layers
# byte for byte and the build is a pull and a push, not the 5 GB upstream build.
#
# Why mirror instead of pulling from Docker Hub: nodes pull from ECR inside the region (Docker Hub
# limits pulls per source IP, and every node behind one NAT gateway shares one), ECR scans the
# image on push, and the release stays available however upstream retags or prunes its tags.
#
# HERMES_IMAGE is the release pinned by digest (name:tag@sha256:...); components/hermes_image.py
# passes it as a build argument. No default: an empty FROM fails the build instead of guessing.
ARG HERMES_IMAGE
FROM ${HERMES_IMAGE}

# An ARG declared before FROM is only in scope for FROM; declare it again to use it below.
ARG HERMES_IMAGE
# OCI pre-defined annotation keys (opencontainers/image-spec annotations.md).
LABEL org.opencontainers.image.source="https://github.com/NousResearch/hermes-agent" \
      org.opencontainers.image.base.name="${HERMES_IMAGE}"
