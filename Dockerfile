# SPDX-License-Identifier: Apache-2.0
# Multi-stage build on Debian 12: the build stage uses the project's own scripts; the image ships the
# binaries only (the BPF object is embedded in podid-agent through its skeleton).
FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN scripts/install-deps --build && PODID_BUILD_DIR=/build scripts/build \
 && cmake --install /build --prefix /out --strip

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libbpf1 libelf1 zlib1g \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/bin/podid-agent /usr/bin/podid-agent
# The agent needs CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN (cgroup attach, bpffs, private cgroup2 mount) and the
# host's /sys/fs/bpf and cgroup2 mounts: it runs as root in a hostNetwork DaemonSet (see deploy/, to come).
ENTRYPOINT ["/usr/bin/podid-agent"]
CMD ["run"]
