# syntax=docker/dockerfile:1.7
# sequence-signer container image (README "Container"; built and run for real by
# `make image-test`, scripts/image_test.sh).
#
#   buildah build --format docker --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt \
#       -t sequence-signer .
#   docker build --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt -t sequence-signer .
#
# Build arguments:
#   BASE    the base image of both stages (default: python:3.11-slim-bookworm).
#   PYTHON  the base image's Python 3.11 interpreter: "python" on the python:*
#           images (/usr/local/bin), "python3.11" on a Debian base with
#           python3.11-venv installed (/usr/bin). The venv links to it, so the
#           runtime stage (same BASE) runs the same interpreter.
# The optional `ca` build secret is a CA bundle for builds behind a
# TLS-intercepting proxy; pip reads it from /run/secrets/ca and it is never
# stored in a layer. `--format docker` keeps the HEALTHCHECK (OCI has none).
#
# Run as the numeric user 10001 with a read-only root: state, sockets and the
# admin socket are volumes, the master key is a mounted secret, the config is a
# mounted file (the image ships a default, /etc/sequence-signer/config.toml):
#
#   podman run --read-only --ulimit memlock=-1 \
#     -v signer-state:/var/lib/sequence-signer -v signer-run:/run/sequence-signer \
#     -v signer-admin:/run/sequence-signer-admin \
#     --secret master.key,target=/run/secrets/master.key sequence-signer
#
# Enclaves: mount a config whose listener is `kind = "vsock"` (README "Enclaves
# (vsock)"); the daemon listens on AF_VSOCK itself and relays to a private Unix
# socket in the state volume, so no grpcio built with vsock is needed.
#
# The default BASE is pulled from Docker Hub, which this project's machines cannot
# reach; `make image-test` builds this file on a debootstrap'd bookworm base instead.
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS build
ARG PYTHON=python
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY signer ./signer
COPY policy ./policy
# SECURITY: wheels only for the runtime dependencies (no compiler in either stage);
# pip and setuptools are removed from the runtime venv, and the bytecode is compiled here
# (unchecked-hash: valid whatever the file times) so the read-only root needs no writes.
RUN --mount=type=secret,id=ca,required=false \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    "${PYTHON}" -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-compile --only-binary=:all: --no-binary=sequence-signer . \
    && /opt/venv/bin/pip uninstall --yes --quiet pip setuptools \
    && /opt/venv/bin/python -m compileall -q --invalidation-mode unchecked-hash /opt/venv/lib \
    && mkdir -p /out/etc/sequence-signer \
    && printf '%s\n' \
        '# Default container config: mount your own over it to change it.' \
        'state_dir = "/var/lib/sequence-signer"' \
        'master_key_file = "/run/secrets/master.key"' \
        '' \
        '[[listeners]]' \
        'kind = "unix"' \
        'address = "/run/sequence-signer/api.sock"' \
        'role = "api"' \
        'socket_mode = 0o660' \
        '' \
        '[[listeners]]' \
        'kind = "unix"' \
        'address = "/run/sequence-signer-admin/admin.sock"' \
        'role = "admin"' \
        > /out/etc/sequence-signer/config.toml

FROM ${BASE}
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /opt/venv /opt/venv
COPY --from=build /out/etc/sequence-signer /etc/sequence-signer
USER 10001:10001
VOLUME ["/var/lib/sequence-signer", "/run/sequence-signer", "/run/sequence-signer-admin"]
HEALTHCHECK --interval=10s --timeout=5s --retries=3 \
    CMD ["/opt/venv/bin/sequence-signer", "health", "--target", "unix:/run/sequence-signer/api.sock"]
ENTRYPOINT ["/opt/venv/bin/sequence-signer"]
CMD ["serve", "--config", "/etc/sequence-signer/config.toml"]
