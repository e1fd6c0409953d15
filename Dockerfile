# Conveyor in a container. The binary is built as `make release` builds it (release
# configuration, the Swift and C++ runtimes linked in) and runs on Debian 12 slim with only
# libcurl4 (which brings libssl3's libcrypto) and ca-certificates, as a non-root user.
# docs/operations.md, "Installing", shows how to run it.
#
#   docker build -t conveyor .
#   docker run --rm -e AWS_REGION=eu-west-2 -v "$PWD/jobs:/jobs:ro" conveyor run /jobs/ticket-summaries.yaml

ARG SWIFT_VERSION=6.3

FROM swift:${SWIFT_VERSION}-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libcurl4-openssl-dev libssl-dev pkg-config make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# `make release` without its setup step (which installs the test tools)
RUN make release-build RELEASE_PRODUCTS=conveyor \
    && install -D -m 0755 -s .build/release/conveyor /out/conveyor

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libcurl4 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /nonexistent --shell /usr/sbin/nologin conveyor
COPY --from=build /out/conveyor /usr/local/bin/conveyor
COPY --from=build /src/schema/conveyor-job.schema.json /usr/local/share/conveyor/conveyor-job.schema.json
USER 10001:10001
# SIGTERM (docker stop) drains the calls in flight and writes the report: give it time (docker stop -t 180)
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/conveyor"]
CMD ["--help"]
