# mtlsd container image: built from source on Debian 12, run on Debian 12
# slim as an unprivileged user. Configuration and certificates are not part
# of the image: mount them at /etc/mtlsd (see docs/deploy-docker.md).
#
#   docker build -t mtlsd:0.1.0 .
#   docker run --rm mtlsd:0.1.0 version

FROM debian:12 AS build

RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config \
      libssl-dev libboost1.81-dev libtomlplusplus-dev libspdlog-dev libseccomp-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake/ cmake/
COPY include/ include/
COPY src/ src/
COPY tools/ tools/

# No tests or benchmarks in the image build (they need googletest and run
# in CI). --strip drops the debug information, which is over 90% of the
# binaries' size and not needed to run them.
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DMTLSD_BUILD_TESTS=OFF -DMTLSD_BUILD_BENCH=OFF \
 && cmake --build build \
 && cmake --install build --prefix /usr/local --strip


FROM debian:12-slim

# Exactly the shared libraries mtlsd links against (ldd): OpenSSL 3, toml++,
# spdlog and its fmt, libseccomp ([server] sandbox). libstdc++ and libc are
# already in the base image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libssl3 libtomlplusplus3 libspdlog1.10 libfmt9 libseccomp2 \
 && rm -rf /var/lib/apt/lists/*

# A fixed numeric UID/GID, so that mounted keys can be owned by it and
# orchestrators can verify "not root" without reading /etc/passwd.
RUN groupadd --gid 10001 mtlsd \
 && useradd --uid 10001 --gid mtlsd --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin mtlsd \
 && install -d -m 0755 /etc/mtlsd

COPY --from=build /usr/local/bin/mtlsd /usr/local/bin/mtlsd-echo /usr/local/bin/
COPY packaging/docker/healthcheck /usr/local/bin/mtlsd-healthcheck

USER 10001:10001

# 8443: the example service's TLS listener; 9901: the admin endpoint.
# Both are unprivileged, so the container needs no capability at all.
EXPOSE 8443 9901

# mtlsd drains on SIGTERM: give `docker stop` more than [server]
# drain_timeout (docker stop -t / stop_grace_period), or it is killed early.
STOPSIGNAL SIGTERM

# /healthz on the admin endpoint ([admin] listen must be set; plain HTTP).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/mtlsd-healthcheck", "127.0.0.1:9901", "/healthz"]

ENTRYPOINT ["/usr/local/bin/mtlsd"]
CMD ["run", "--config", "/etc/mtlsd/mtlsd.toml"]
