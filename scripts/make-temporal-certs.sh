#!/usr/bin/env bash
# Make a small PKI for a Temporal frontend with mutual TLS (X.509 v3 via -extfile: Temporal's Rust core refuses v1):
#   scripts/make-temporal-certs.sh DIR [SERVER_NAME]     (default SERVER_NAME: temporal)
# Writes DIR/ca.pem, ca.key (keep it offline), server.pem/.key (the frontend, SAN SERVER_NAME and localhost),
# worker.pem/.key (Steward's worker and CLI) and ui.pem/.key (the Web UI server). ed25519 keys, 825 days.
set -euo pipefail
DIR=${1:?usage: make-temporal-certs.sh DIR [SERVER_NAME]}
NAME=${2:-temporal}
mkdir -p "$DIR"
cd "$DIR"
umask 077
key() { openssl genpkey -algorithm ed25519 -out "$1.key"; }
key ca
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n' > ca.ext
openssl req -new -key ca.key -subj "/CN=Steward Temporal CA" -out ca.csr
openssl x509 -req -in ca.csr -signkey ca.key -days 825 -extfile ca.ext -out ca.pem
leaf() { # name cn extensions
  key "$1"
  printf '%b' "$3" > "$1.ext"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 -extfile "$1.ext" -out "$1.pem"
}
leaf server "$NAME" "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:$NAME,DNS:localhost,IP:127.0.0.1\n"
leaf worker steward-worker 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n'
leaf ui temporal-ui 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n'
rm -f ./*.csr ./*.ext ca.srl
# Containers run as other users: the keys must be readable by them (the directory is mounted read-only).
chmod 644 ./*.pem ./*.key
echo "certificates in $DIR: ca.pem server.pem/.key worker.pem/.key ui.pem/.key (server name $NAME)"
