# syntax=docker/dockerfile:1
# cdc-apply / cdc-verify image.
#   docker build -t cdc-apply .
#   docker build --build-arg RUN_TESTS=1 -t cdc-apply .   # also runs the unit suite
#
# Build stage: Debian bookworm (the reference system) with exactly the
# packages scripts/install-deps.sh installs, meson + ninja.
FROM debian:bookworm AS build
ARG RUN_TESTS=0
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN bash scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN meson setup /build --buildtype=release --prefix=/usr/local \
 && ninja -C /build cdc-apply cdc-verify cdc-decode \
 && if [ "$RUN_TESTS" = 1 ]; then ninja -C /build && meson test -C /build --suite unit --print-errorlogs; fi \
 && install -D -m 0755 -t /out/usr/local/bin /build/cdc-apply /build/cdc-verify /build/cdc-decode

# Runtime stage: the shared libraries the programs link, curl for the
# health check, the PostgreSQL client for operators (psql, pg_isready).
FROM debian:bookworm-slim
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      librdkafka1 libpq5 libavro23 libjansson4 libxxhash0 libmicrohttpd12 libcurl4 \
      ca-certificates curl postgresql-client \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin cdc \
 && install -d -o cdc -g cdc /var/lib/cdc/textfile
COPY --from=build /out/ /
COPY deploy/verify/verify-loop.sh /usr/local/bin/cdc-verify-loop
# A named volume mounted here starts owned by cdc (the nightly verify writes
# its node_exporter textfile into it).
VOLUME /var/lib/cdc/textfile
USER cdc
# /metrics, /healthz, /readyz (cdc-apply --metrics-addr 0.0.0.0:9187)
EXPOSE 9187
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:9187/healthz >/dev/null || exit 1
ENTRYPOINT ["cdc-apply"]
CMD ["--help"]
