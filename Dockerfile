# The contacts binary in a small Debian image. Built by docker-compose.yml; see the README.
# It links Debian's librocksdb (7.8.3), not the optimized RocksDB of `scripts/setup --optimized`
# (README, Performance): `contacts --version` in the image says which.
FROM debian:bookworm AS build
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      cmake ninja-build g++ pkg-config libboost1.81-dev librdkafka-dev librocksdb-dev nlohmann-json3-dev \
      doctest-dev libssl-dev libvalijson-dev libutf8proc-dev libjemalloc-dev libspdlog-dev libxxhash-dev ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null \
 && cmake --build build --target contacts -j "$(nproc)"

FROM debian:bookworm-slim
LABEL org.opencontainers.image.title="contacts" \
      org.opencontainers.image.description="contacts, linked against Debian bookworm's librocksdb 7.8.3"
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      librdkafka++1 librdkafka1 libssl3 libutf8proc2 liblz4-1 libsnappy1v5 libzstd1 libbz2-1.0 zlib1g \
      libsasl2-2 libjemalloc2 libspdlog1.10 libfmt9 ca-certificates curl >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/contacts contacts && mkdir -p /var/lib/contacts \
 && chown contacts /var/lib/contacts
COPY --from=build /src/build/contacts /usr/local/bin/contacts
USER contacts
ENV CONTACTS_DATA=/var/lib/contacts \
    CONTACTS_LISTEN=0.0.0.0:8080 \
    CONTACTS_INGEST_LISTEN=0.0.0.0:8081
EXPOSE 8080 8081
HEALTHCHECK --interval=5s --timeout=3s --retries=20 CMD curl -fsS http://127.0.0.1:8080/healthz >/dev/null || exit 1
ENTRYPOINT ["contacts"]
CMD ["serve"]
