#!/bin/sh
# Start SeaweedFS (master, volume, filer, S3 gateway) in one container.
#
# The S3 identity file is written here from S3_ACCESS_KEY / S3_SECRET_KEY so that no credential
# is committed or baked into an image (the file lives in the container's /tmp, mode 600).
# Extra arguments are appended to `weed server` (e.g. `-master.volumeSizeLimitMB=256`).
set -eu

: "${S3_ACCESS_KEY:?S3_ACCESS_KEY must be set (see .env.example)}"
: "${S3_SECRET_KEY:?S3_SECRET_KEY must be set (see .env.example)}"
S3_PORT="${S3_PORT:-8333}"
S3_CONFIG="${S3_CONFIG:-/tmp/seaweedfs-s3.json}"
DATA_DIR="${SEAWEEDFS_DATA_DIR:-/data}"

# The values go into JSON unescaped: refuse characters that would need escaping.
case "${S3_ACCESS_KEY}${S3_SECRET_KEY}" in
    *'"'* | *'\'* | *' '*)
        echo "seaweedfs-entrypoint: S3_ACCESS_KEY/S3_SECRET_KEY must not contain quotes," \
            "backslashes or spaces" >&2
        exit 64
        ;;
esac

umask 077
cat >"${S3_CONFIG}" <<JSON
{
  "identities": [
    {
      "name": "regreport",
      "credentials": [{"accessKey": "${S3_ACCESS_KEY}", "secretKey": "${S3_SECRET_KEY}"}],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    }
  ]
}
JSON

mkdir -p "${DATA_DIR}"
# -ip=127.0.0.1: master, volume and filer talk to each other inside this container only;
# -ip.bind=0.0.0.0: the S3 port is reachable from the other services.
# -s3.autoCreateBucket=false: an upload to a missing bucket must fail, not create a bucket
# without Object Lock (Object Lock can only be enabled when a bucket is created).
# -s3.iam=false: no embedded IAM API; identities come only from the file above.
exec weed -logtostderr=true server \
    -dir="${DATA_DIR}" \
    -ip=127.0.0.1 \
    -ip.bind=0.0.0.0 \
    -filer \
    -s3 \
    -s3.port="${S3_PORT}" \
    -s3.config="${S3_CONFIG}" \
    -s3.autoCreateBucket=false \
    -s3.iam=false \
    -master.volumeSizeLimitMB="${SEAWEEDFS_VOLUME_SIZE_LIMIT_MB:-1024}" \
    -volume.max="${SEAWEEDFS_VOLUME_MAX:-100}" \
    "$@"
