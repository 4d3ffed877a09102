# SPDX-License-Identifier: Apache-2.0
#
# One image, both binaries: podid-agent (the DaemonSet) and podid-controller (the Deployment). Built in two
# stages on Debian 12: the build stage runs the project's own scripts (scripts/install-deps --build,
# scripts/build of the two binaries) and installs with CMake's install() rules; the runtime stage is
# debian:12-slim with the shared libraries the two binaries link and nothing else: no compiler, no header (the
# BPF object is embedded in podid-agent through its skeleton). scripts/image builds it with buildah on a
# machine without Docker; `az acr build` (README, quickstart step 4) builds it in Azure.
#
# Users: the image's default user is 65532 (non-root), which is what the controller runs as when its cloud
# configuration comes from a Secret. The agent DaemonSet sets runAsUser 0 and adds exactly the capabilities it
# needs (deploy/manifests/11-agent-daemonset.yaml); the controller reading the node's root-only azure.json does
# too, with no capability. One image rather than two keeps the versions of the two in lock step and halves what
# nodes pull; the manifests name the binary to run (`command:`), so nothing depends on the default command.
#
# Reproducibility: build with
#   docker buildx build --build-arg SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) \
#     --output type=image,name=ghcr.io/podid/podid:0.1.0,rewrite-timestamp=true .
# so that file and layer timestamps come from the last commit. The base images are named by tag: pin them by
# digest (FROM debian:12@sha256:...) in the release pipeline, which can look the digests up; this tree is
# written offline and cannot. Debian packages come from the base image's sources at build time; for
# bit-identical rebuilds point apt at snapshot.debian.org for the same date.
ARG SOURCE_DATE_EPOCH=0

FROM debian:12 AS build
ARG SOURCE_DATE_EPOCH
ENV SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH} PODID_DEBUG_INFO=0
WORKDIR /src
COPY . .
RUN scripts/install-deps --build \
 && PODID_BUILD_DIR=/build scripts/build podid-agent podid-controller \
 && cmake --install /build --prefix /out --strip

FROM debian:12-slim
ARG SOURCE_DATE_EPOCH
# libbpf1, libelf1, zlib1g: the agent's BPF loader. libssl3: HTTPS to the API server, ARM and Entra ID, with
# ca-certificates to verify them. libyaml-cpp0.7: kubeconfig files. libprometheus-cpp-core1.0: /metrics.
# iproute2 and the base image's sh, stat and sleep: the agent's init container (the redirect address on a dummy
# interface) and the uninstall DaemonSet.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates iproute2 libbpf1 libelf1 libssl3 \
      libprometheus-cpp-core1.0 libyaml-cpp0.7 zlib1g \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log /var/cache/ldconfig/aux-cache
COPY --from=build /out/bin/podid-agent /out/bin/podid-controller /usr/bin/
USER 65532:65532
CMD ["/usr/bin/podid-controller", "run"]
