# Build: the same `cargo build --release` as on a developer machine, on a
# pinned toolchain (the one the project is built and tested with).
# libpq and OpenSSL are built from source into the binary (pq-sys and
# openssl-sys, bundled): the image's cc, make and perl are all they need.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# Dependencies first, in a layer that changes only with Cargo.toml and
# Cargo.lock: stub targets (the manifest names a library, a binary and
# benchmarks; cargo refuses a manifest whose targets are missing) let cargo
# build every dependency before the sources arrive, so a source change
# rebuilds the service alone.
RUN mkdir -p src benches \
 && touch src/lib.rs \
 && echo 'fn main() {}' > src/main.rs \
 && for bench in $(sed -n '/^\[\[bench\]\]/{n;s/^name = "\(.*\)"$/\1/p}' Cargo.toml); do \
      echo 'fn main() {}' > "benches/$bench.rs"; \
    done \
 && cargo build --release --locked --bin songmay \
 && rm -rf src benches
COPY benches benches
COPY src src
COPY migrations migrations
COPY data data
# Newer than the stubs' build, so cargo rebuilds the crate itself.
RUN touch src/lib.rs src/main.rs \
 && cargo build --release --locked --bin songmay

# Run: a slim Debian (the binary carries libpq and OpenSSL; webhooks use
# their own bundled root certificates); an unprivileged user.
FROM debian:bookworm-slim
RUN useradd --system --home-dir /var/lib/songmay --create-home songmay
COPY --from=build /src/target/release/songmay /usr/local/bin/songmay
USER songmay
WORKDIR /var/lib/songmay
ENV SONGMAY_BIND=0.0.0.0:8080 \
    RUST_LOG=info
EXPOSE 8080
STOPSIGNAL SIGTERM
# Ready means the database answers and the schema is current; the check is
# the service's own binary (`songmay healthcheck`), so the image needs no curl.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=4 \
  CMD ["songmay", "healthcheck"]
ENTRYPOINT ["songmay"]
CMD ["serve"]
