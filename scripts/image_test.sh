#!/usr/bin/env bash
# `make image-test`: build the container image from Dockerfile for real, run it
# with a read-only root, check its health, sign one request, stop it.
#
# Needs root and a few minutes (first run); not part of `make test` or CI.
#
# What it does, and why this way:
#  1. Tools: buildah (builds the Dockerfile without a Docker engine), debootstrap
#     (makes the base image: no registry but Debian's and PyPI's is reachable, so
#     python:3.11-slim-bookworm cannot be pulled) and runc (the OCI runtime that
#     runs the image; buildah's crun 1.8 refuses this machine's hybrid cgroup
#     v1/v2 layout, "cgroups in hybrid mode not supported", with or without
#     --cgroup-manager=disabled). Installed with apt-get when missing.
#  2. Base image: `debootstrap --variant=minbase bookworm` with python3.11-venv and
#     libseccomp2 (and python3-distutils: debootstrap does not resolve the virtual
#     python3.11-distutils that python3.11-venv depends on) into .image-cache/rootfs
#     (kept: later runs reuse it; delete .image-cache to start over), copied into
#     `buildah from scratch` and committed as localhost/sequence-signer-base:bookworm.
#     Debian's interpreter is /usr/bin/python3.11, so the build passes
#     PYTHON=python3.11 (the default, "python", fits python:3.11-slim).
#  3. Build: `buildah build --isolation chroot` (buildah's default OCI isolation
#     runs crun, which fails as above; chroot isolation needs no cgroups and
#     shares the host network), `--format docker` (keeps the HEALTHCHECK),
#     `--layers` (cached steps on later runs), the host CA bundle as the `ca` build
#     secret (this machine reaches PyPI through a TLS-intercepting proxy). Storage
#     (overlay driver; STORAGE_DRIVER=vfs where overlay does not work) lives in
#     .image-cache/storage, so nothing leaks into the system's container storage.
#  4. Run: the image is mounted (`buildah from` + `buildah mount`) and run by runc
#     from an OCI bundle written here, which is what `podman run --read-only
#     --cap-drop ALL --cap-add IPC_LOCK --network none` would do: read-only root,
#     only CAP_IPC_LOCK (for mlockall; `--ulimit memlock=-1` instead would need
#     CAP_SYS_RESOURCE, which root lacks on this machine), no_new_privs, own
#     pid/net/ipc/uts/mount namespaces, user 10001, the image's ENTRYPOINT+CMD and
#     Env, and bind mounts for the state volume, the two socket volumes and the
#     master key (read-only). No /tmp is mounted: the daemon must not need one.
#  5. Checks: the image runs as 10001:10001, has a HEALTHCHECK, and has no gcc,
#     cc, c++, make or venv pip; the image's own HEALTHCHECK command is run in the
#     container with `runc exec` until it passes; writes to /, /tmp, /opt/venv and
#     /etc/sequence-signer fail with EROFS even as uid 0 in the container; the api
#     socket is 0660 and the admin socket 0600; SetCredentials
#     (Kraken, generated secret, sent on stdin) and SignVenueRequest (AddOrder) go
#     through the in-image `sequence-signer call`; the API-Sign header is verified
#     here with Python's hmac; a Withdraw path must come back PERMISSION_DENIED; the
#     daemon's /proc entry must show RLIMIT_CORE 0, seccomp filter mode, no_new_privs,
#     locked memory and root-owned /proc files (not dumpable); SIGTERM must end
#     it with status 0.
#
# Environment: IMAGE_CACHE (default .image-cache), DEBIAN_MIRROR (default: debootstrap's), CA_BUNDLE,
# STORAGE_DRIVER (overlay), KEEP=1 to keep the run directory for inspection.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${IMAGE_CACHE:-$ROOT/.image-cache}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
BASE_IMAGE=localhost/sequence-signer-base:bookworm
IMAGE=localhost/sequence-signer:image-test
UIDGID=10001
B=(buildah --root "$CACHE/storage" --runroot "$CACHE/runroot"
   --storage-driver "${STORAGE_DRIVER:-overlay}")
RUN_DIR=""
CTR=""
CID="sequence-signer-image-test-$$"
RUNC=(runc)

step() { printf '\n== [%3ds] %s\n' "$SECONDS" "$*"; }
fail() { printf 'image-test FAILED: %s\n' "$*" >&2; [ -n "$RUN_DIR" ] && tail -n 30 "$RUN_DIR/daemon.log" >&2 2>/dev/null; exit 1; }

cleanup() {
    set +e
    if [ -n "$RUN_DIR" ] && "${RUNC[@]}" state "$CID" >/dev/null 2>&1; then
        "${RUNC[@]}" kill "$CID" KILL >/dev/null 2>&1
        "${RUNC[@]}" delete --force "$CID" >/dev/null 2>&1
    fi
    if [ -n "$CTR" ]; then
        "${B[@]}" umount "$CTR" >/dev/null 2>&1
        "${B[@]}" rm "$CTR" >/dev/null 2>&1
    fi
    if [ -n "$RUN_DIR" ] && [ "${KEEP:-0}" != 1 ]; then rm -rf "$RUN_DIR"; fi
}
trap cleanup EXIT

# -- 1. tools ------------------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
    echo "image-test needs root (debootstrap, container storage, runc); run: sudo make image-test" >&2
    exit 2
fi
missing=()
for tool in buildah debootstrap runc; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
    step "installing ${missing[*]} (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah debootstrap runc >/dev/null
fi
[ -s "$CA_BUNDLE" ] || fail "CA bundle $CA_BUNDLE not found (set CA_BUNDLE)"
mkdir -p "$CACHE"

# -- 2. base image ---------------------------------------------------------------
if [ ! -f "$CACHE/rootfs.done" ]; then
    step "debootstrap bookworm (minbase + python3.11-venv, libseccomp2) into $CACHE/rootfs"
    rm -rf "$CACHE/rootfs"
    debootstrap --variant=minbase --include=python3.11-venv,python3-distutils,libseccomp2 \
        bookworm "$CACHE/rootfs" ${DEBIAN_MIRROR:+"$DEBIAN_MIRROR"} >"$CACHE/debootstrap.log" 2>&1 \
        || { tail -n 20 "$CACHE/debootstrap.log" >&2; fail "debootstrap"; }
    rm -rf "$CACHE"/rootfs/var/cache/apt/archives/*.deb "$CACHE"/rootfs/var/lib/apt/lists/*
    touch "$CACHE/rootfs.done"
fi
if ! "${B[@]}" inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
    step "importing the rootfs as $BASE_IMAGE"
    base=$("${B[@]}" from scratch)
    mnt=$("${B[@]}" mount "$base")
    tar -C "$CACHE/rootfs" -cf - . | tar -C "$mnt" -xpf -
    "${B[@]}" umount "$base" >/dev/null
    "${B[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --cmd /bin/bash "$base"
    "${B[@]}" commit --quiet "$base" "$BASE_IMAGE" >/dev/null
    "${B[@]}" rm "$base" >/dev/null
fi

# -- 3. build ------------------------------------------------------------------------
step "buildah build (BASE=$BASE_IMAGE PYTHON=python3.11, CA bundle as build secret)"
"${B[@]}" build --isolation chroot --format docker --layers --pull-never \
    --build-arg BASE="$BASE_IMAGE" --build-arg PYTHON=python3.11 \
    --secret id=ca,src="$CA_BUNDLE" -t "$IMAGE" -f "$ROOT/Dockerfile" "$ROOT" \
    >"$CACHE/build.log" 2>&1 || { tail -n 40 "$CACHE/build.log" >&2; fail "buildah build"; }
"${B[@]}" images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$IMAGE"
CONFIG_JSON=$("${B[@]}" inspect --type image "$IMAGE" \
    | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["Docker"]["config"]))')
field() { python3 -c 'import json, sys; print(json.dumps(json.loads(sys.argv[1]).get(sys.argv[2])))' "$CONFIG_JSON" "$1"; }
[ "$(field User)" = "\"$UIDGID:$UIDGID\"" ] || fail "image user is not $UIDGID"
[ "$(field Healthcheck)" != null ] || fail "image has no HEALTHCHECK"
"${B[@]}" run --isolation chroot "$("${B[@]}" from --pull-never -q "$IMAGE")" /bin/sh -c \
    'for t in gcc cc c++ make /opt/venv/bin/pip; do command -v "$t" && exit 1; done; exit 0' \
    || fail "a compiler, make or pip is in the runtime image"
"${B[@]}" rm --all >/dev/null

# -- 4. run with a read-only root ----------------------------------------------------------
step "starting the container (runc, read-only root, user $UIDGID, only CAP_IPC_LOCK)"
RUN_DIR=$(mktemp -d /tmp/signer-image-test.XXXXXX)
mkdir -p "$RUN_DIR"/{state,sock,admin,secrets,bundle}
python3 -c 'import secrets; print(secrets.token_hex(32))' >"$RUN_DIR/secrets/master.key"
chmod 0400 "$RUN_DIR/secrets/master.key"
chmod 0700 "$RUN_DIR"/{state,sock,admin}
chown "$UIDGID:$UIDGID" "$RUN_DIR"/{state,sock,admin} "$RUN_DIR/secrets/master.key"
CTR=$("${B[@]}" from --pull-never -q "$IMAGE")
ROOTFS=$("${B[@]}" mount "$CTR")
(cd "$RUN_DIR/bundle" && runc spec)
CONFIG_JSON=$CONFIG_JSON RUN_DIR=$RUN_DIR ROOTFS=$ROOTFS UIDGID=$UIDGID python3 - <<'PY'
import json, os
run, uid = os.environ["RUN_DIR"], int(os.environ["UIDGID"])
image = json.loads(os.environ["CONFIG_JSON"])
path = f"{run}/bundle/config.json"
spec = json.load(open(path))
spec["root"] = {"path": os.environ["ROOTFS"], "readonly": True}
proc = spec["process"]
proc.update(terminal=False, user={"uid": uid, "gid": uid}, cwd="/",
            args=image["Entrypoint"] + (image.get("Cmd") or []), env=image["Env"],
            noNewPrivileges=True)
# Only CAP_IPC_LOCK (--cap-drop ALL --cap-add IPC_LOCK), so mlockall is permitted: an
# unlimited RLIMIT_MEMLOCK (--ulimit memlock=-1) would need CAP_SYS_RESOURCE, which
# this machine's root does not have.
proc["capabilities"] = {k: ["CAP_IPC_LOCK"]
                        for k in ("bounding", "effective", "permitted", "inheritable", "ambient")}
proc["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 4096}]
def bind(src, dst, ro=False):
    opts = ["rbind", "nosuid", "nodev", "noexec"] + (["ro"] if ro else ["rw"])
    return {"destination": dst, "type": "bind", "source": src, "options": opts}
spec["mounts"] = [m for m in spec["mounts"] if m["destination"] != "/sys/fs/cgroup"] + [
    bind(f"{run}/state", "/var/lib/sequence-signer"),
    bind(f"{run}/sock", "/run/sequence-signer"),
    bind(f"{run}/admin", "/run/sequence-signer-admin"),
    bind(f"{run}/secrets/master.key", "/run/secrets/master.key", ro=True),
]
spec["linux"].pop("resources", None)
json.dump(spec, open(path, "w"), indent=1)
PY
"${RUNC[@]}" run --bundle "$RUN_DIR/bundle" "$CID" </dev/null >"$RUN_DIR/daemon.log" 2>&1 &
RUNC_PID=$!

# The image's HEALTHCHECK command, run in the container as the image's user.
mapfile -t HEALTH < <(python3 -c 'import json, sys
test = json.loads(sys.argv[1])["Healthcheck"]["Test"]
assert test[0] == "CMD", test
print("\n".join(test[1:]))' "$CONFIG_JSON")
in_ctr() { "${RUNC[@]}" exec --user "$UIDGID:$UIDGID" "$CID" "$@"; }
step "waiting for the HEALTHCHECK (${HEALTH[*]})"
for _ in $(seq 1 120); do
    kill -0 "$RUNC_PID" 2>/dev/null || fail "the daemon exited during start-up"
    if in_ctr "${HEALTH[@]}" >/dev/null 2>&1; then healthy=1; break; fi
    sleep 0.5
done
[ "${healthy:-0}" = 1 ] || fail "HEALTHCHECK never passed"
in_ctr "${HEALTH[@]}"

step "read-only root, private sockets"
# As uid 0 in the container, so that only a read-only mount (EROFS), not file
# permissions, can refuse the writes.
"${RUNC[@]}" exec --user 0:0 "$CID" /opt/venv/bin/python -c '
import errno
for path in ("/probe", "/tmp/probe", "/opt/venv/probe", "/etc/sequence-signer/probe"):
    try:
        open(path, "w")
    except OSError as exc:
        assert exc.errno == errno.EROFS, (path, exc)
    else:
        raise SystemExit(f"{path} is writable")
print("root filesystem: read-only (EROFS for /, /tmp, /opt/venv, /etc/sequence-signer)")
' || fail "the root filesystem is writable"
[ "$(stat -c %a "$RUN_DIR/sock/api.sock")" = 660 ] || fail "api.sock is not 0660"
[ "$(stat -c %a "$RUN_DIR/admin/admin.sock")" = 600 ] || fail "admin.sock is not 0600"
stat -c '%n %a %u:%g' "$RUN_DIR/sock/api.sock" "$RUN_DIR/admin/admin.sock"

step "hardening as seen from the host (/proc of the daemon)"
PID=$("${RUNC[@]}" state "$CID" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
STATUS=$(cat "/proc/$PID/status")
grep -E '^(Uid|NoNewPrivs|Seccomp|VmLck):' <<<"$STATUS"
grep -q $'^Uid:\t10001' <<<"$STATUS" || fail "daemon is not uid 10001"
grep -q $'^NoNewPrivs:\t1' <<<"$STATUS" || fail "no_new_privs is not set"
grep -q $'^Seccomp:\t2' <<<"$STATUS" || fail "no seccomp filter on the daemon"
grep -Eq $'^VmLck:\t +[1-9]' <<<"$STATUS" || fail "no memory is locked"
grep -E '^Max core file size +0 +0 ' "/proc/$PID/limits" || fail "RLIMIT_CORE is not 0"
[ "$(stat -c %u "/proc/$PID/environ")" = 0 ] || fail "daemon is dumpable (/proc files owned by it)"
echo "not dumpable: /proc/$PID/environ is owned by root"
grep -F 'not applied' "$RUN_DIR/daemon.log" && fail "a hardening measure was not applied"

step "SetCredentials (Kraken, live) and SignVenueRequest (AddOrder) through the in-image client"
KRAKEN_SECRET=$(python3 -c 'import base64, secrets; print(base64.b64encode(secrets.token_bytes(64)).decode())')
CALL=(/opt/venv/bin/sequence-signer call --target unix:/run/sequence-signer/api.sock)
printf '%s' "$KRAKEN_SECRET" | in_ctr "${CALL[@]}" set-credentials --client image-test \
    --mode live --venue kraken --api-key image-test-key --api-secret-file - \
    || fail "SetCredentials"
BODY='ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25'
SIGNED=$(in_ctr "${CALL[@]}" sign --client image-test --mode live --venue kraken \
    --method POST --path /0/private/AddOrder --body "$BODY") || fail "SignVenueRequest"
KRAKEN_SECRET=$KRAKEN_SECRET python3 - "$SIGNED" <<'PY' || fail "the Kraken signature does not verify"
import base64, hashlib, hmac, json, os, sys
from urllib.parse import parse_qsl
req = json.loads(sys.argv[1])["request"]
nonce = dict(parse_qsl(req["body"]))["nonce"]
digest = hashlib.sha256(nonce.encode() + req["body"].encode()).digest()
mac = hmac.new(base64.b64decode(os.environ["KRAKEN_SECRET"]), req["path"].encode() + digest,
               hashlib.sha512)
assert req["host"] == "api.kraken.com", req["host"]
assert req["headers"]["API-Sign"] == base64.b64encode(mac.digest()).decode()
print(f"signed {req['method']} https://{req['host']}{req['path']} (nonce {nonce}): API-Sign verifies")
PY
if DENIED=$(in_ctr "${CALL[@]}" sign --client image-test --mode live --venue kraken \
        --method POST --path /0/private/Withdraw --body 'asset=XBT&key=home&amount=1' 2>&1); then
    fail "a Kraken Withdraw was signed"
fi
grep -q PERMISSION_DENIED <<<"$DENIED" || fail "Withdraw: unexpected answer: $DENIED"
echo "Withdraw refused: $DENIED"

step "SIGTERM"
"${RUNC[@]}" kill "$CID" TERM
rc=0
wait "$RUNC_PID" || rc=$?
[ "$rc" = 0 ] || fail "the daemon exited with status $rc"
"${RUNC[@]}" delete --force "$CID" >/dev/null 2>&1 || true
grep -q 'shutting down' "$RUN_DIR/daemon.log" || fail "no graceful shutdown in the log"
[ ! -e "$RUN_DIR/sock/api.sock" ] || fail "the api socket was left behind"
ls -ln "$RUN_DIR/state"
step "image-test passed (daemon log: hardening lines)"
grep -F 'signer.hardening' "$RUN_DIR/daemon.log" | sed 's/^[0-9-]* [0-9:,]* //'
