# syntax=docker/dockerfile:1.7
# sequence-signer container image.
#
#   buildah build --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt -t sequence-signer .
#
# The optional `ca` build secret is a CA bundle for builds behind a
# TLS-intercepting proxy; it is used for pip only and never stored in a layer.
# Run with the state directory and the socket directory as volumes, the
# master key and TLS material as mounted secrets, and a read-only root:
#
#   podman run --read-only -v state:/var/lib/sequence-signer -v run:/run/sequence-signer \
#     -v ./config.toml:/etc/sequence-signer/config.toml:ro \
#     --secret master.key sequence-signer
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY signer ./signer
COPY policy ./policy
RUN --mount=type=secret,id=ca,required=false \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    python -m venv /opt/venv && /opt/venv/bin/pip install . && \
    find /opt/venv -name '__pycache__' -prune -exec rm -rf {} +

FROM ${BASE}
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
VOLUME ["/var/lib/sequence-signer", "/run/sequence-signer"]
HEALTHCHECK --interval=10s --timeout=5s --retries=3 \
    CMD ["sequence-signer", "health", "--target", "unix:/run/sequence-signer/api.sock"]
ENTRYPOINT ["sequence-signer"]
CMD ["serve", "--config", "/etc/sequence-signer/config.toml"]
