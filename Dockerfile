# Build: the same `cargo build --release` as on a developer machine.
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# Cargo.toml names the benchmarks; cargo refuses a manifest whose targets are missing.
COPY benches benches
COPY src src
COPY migrations migrations
COPY data data
RUN cargo build --release --locked --bin songmay

# Run: a slim Debian with libpq and nothing else; an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/songmay --create-home songmay
COPY --from=build /src/target/release/songmay /usr/local/bin/songmay
USER songmay
WORKDIR /var/lib/songmay
ENV SONGMAY_BIND=0.0.0.0:8080 \
    RUST_LOG=info
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["songmay"]
CMD ["serve"]
